// "Use my location" on the failure report form: fills the two coordinate fields from the
// browser's geolocation. Without script (or without a position) they are typed by hand.
(function () {
  var button = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (!button || !lat || !lon || !navigator.geolocation) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "Ustalamy położenie…";
    navigator.geolocation.getCurrentPosition(
      function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        var metres = Math.round(position.coords.accuracy);
        status.textContent = "Położenie ustalone (dokładność około " + metres + " m).";
      },
      function () {
        status.textContent = "Nie udało się ustalić położenia. Wpisz adres albo współrzędne.";
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
