//! Polish labels of the codes staff pages show (states, kinds, channels), in one place.

pub fn contract_status(status: &str) -> &'static str {
    match status {
        "draft" => "projekt",
        "active" => "obowiązuje",
        "terminated" => "rozwiązana",
        _ => "",
    }
}

pub fn account_status(status: &str) -> &'static str {
    match status {
        "pending_activation" => "czeka na aktywację",
        "active" => "aktywne",
        "locked" => "zablokowane",
        "disabled" => "wyłączone",
        "closed" => "zamknięte",
        _ => "",
    }
}

pub fn linked_via(via: &str) -> &'static str {
    match via {
        "activation_code" => "kod z pisma",
        "last_invoice" => "dane z faktury",
        "staff" => "w biurze",
        _ => "",
    }
}

pub fn consent(kind: &str) -> &'static str {
    match kind {
        "e_invoice" => "e-faktura",
        "notifications" => "powiadomienia",
        _ => "",
    }
}

pub fn purpose(purpose: &str) -> &'static str {
    match purpose {
        "main" => "główny",
        "garden" => "ogrodowy",
        "sewage" => "ścieki",
        _ => "",
    }
}

pub fn channel(channel: &str) -> &'static str {
    match channel {
        "wmbus" => "radiowy",
        "modbus" => "Modbus",
        "manual" => "odczyt ręczny",
        _ => "",
    }
}

pub fn alarm(kind: &str) -> &'static str {
    match kind {
        "leak" => "wyciek",
        "burst" => "pęknięcie",
        "backflow" => "przepływ zwrotny",
        "tamper" => "ingerencja",
        "dry" => "brak wody",
        "low_battery" => "słaba bateria",
        "device_error" => "błąd urządzenia",
        "no_data" => "brak danych",
        "continuous_flow" => "ciągły przepływ",
        _ => "",
    }
}

pub fn alarm_state(state: &str) -> &'static str {
    match state {
        "raised" => "nowy",
        "acknowledged" => "przyjęty",
        "cleared" => "zamknięty",
        _ => "",
    }
}

pub fn alarm_kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    crate::staff::alarms::KINDS.iter().map(|k| (*k, alarm(k)))
}
