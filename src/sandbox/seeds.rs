//! What every sandbox starts with and returns to on reset: the ids the Zavu docs' examples
//! use, so docs samples run as written — the approved WhatsApp template `tmpl_xyz789`, a
//! template still in review, the phone number `pn_abc123` to pre-assign, and the project's
//! default sender with its own number. Data only.

use crate::api::phone_number::{OwnedPhoneNumber, OwnedPhoneNumberPricing};
use crate::api::sender::{PaymentStatus, Sender, SenderWhatsapp, display_phone};
use crate::api::template::TemplateWhatsapp;
use crate::api::{Template, Timestamp};

pub const SEED_TEMPLATE_ID: &str = "tmpl_xyz789";
pub const SEED_PENDING_TEMPLATE_ID: &str = "tmpl_pending01";
pub const SEED_PHONE_NUMBER_ID: &str = "pn_abc123";
pub const SEED_PHONE_NUMBER: &str = "+14155550123";
pub const DEFAULT_SENDER_ID: &str = "snd_default";
pub const DEFAULT_SENDER_PHONE_ID: &str = "pn_default";
pub const DEFAULT_SENDER_PHONE: &str = "+14155550100";
/// The one project a sandbox serves (`/v1/me`, and every webhook event's `projectId`).
pub const PROJECT_ID: &str = "prj_sandbox";

/// The WhatsApp side of a sender whose account is connected and can send templates.
pub fn connected_whatsapp(account_id: &str, phone: &str) -> SenderWhatsapp {
    SenderWhatsapp {
        display_phone_number: Some(display_phone(phone)),
        phone_number_id: Some(account_id.to_string()),
        payment_status: Some(PaymentStatus {
            can_send_templates: Some(true),
            method_status: Some("VALID".into()),
            setup_status: Some("COMPLETE".into()),
        }),
    }
}

pub fn senders(epoch: Timestamp) -> Vec<Sender> {
    vec![Sender {
        id: DEFAULT_SENDER_ID.into(),
        name: "Sandbox default sender".into(),
        phone_number: DEFAULT_SENDER_PHONE.into(),
        channels: Some(vec!["sms".into(), "whatsapp".into()]),
        is_default: Some(true),
        whatsapp: Some(connected_whatsapp("100000000000001", DEFAULT_SENDER_PHONE)),
        created_at: Some(epoch),
        updated_at: Some(epoch),
        ..Default::default()
    }]
}

pub fn templates(epoch: Timestamp) -> Vec<Template> {
    let reviewed = |name: &str, status: &str| TemplateWhatsapp {
        namespace: Some("sandbox_namespace".into()),
        status: Some(status.into()),
        template_name: Some(name.into()),
    };
    vec![
        Template {
            id: SEED_TEMPLATE_ID.into(),
            name: "welcome_onboarded".into(),
            language: "en".into(),
            body: "Hi {{1}}, your WhatsApp Business account is connected. Welcome aboard!".into(),
            category: "UTILITY".into(),
            status: Some("approved".into()),
            variables: Some(vec!["1".into()]),
            whatsapp: Some(reviewed("welcome_onboarded", "APPROVED")),
            created_at: Some(epoch),
            updated_at: Some(epoch),
            ..Default::default()
        },
        Template {
            id: SEED_PENDING_TEMPLATE_ID.into(),
            name: "spring_promo".into(),
            language: "en".into(),
            body: "Hi {{1}}, our spring offer is here.".into(),
            category: "MARKETING".into(),
            status: Some("pending".into()),
            variables: Some(vec!["1".into()]),
            whatsapp: Some(reviewed("spring_promo", "PENDING")),
            created_at: Some(epoch),
            updated_at: Some(epoch),
            ..Default::default()
        },
    ]
}

pub fn phone_numbers(epoch: Timestamp) -> Vec<OwnedPhoneNumber> {
    let number = |id: &str, phone: &str, name: &str, sender: Option<&str>| OwnedPhoneNumber {
        id: id.into(),
        phone_number: phone.into(),
        capabilities: vec!["sms".into(), "voice".into()],
        created_at: epoch,
        pricing: OwnedPhoneNumberPricing {
            is_free_number: Some(false),
            monthly_cost: Some(115),
            monthly_price: Some(1.15),
            upfront_cost: Some(0),
        },
        status: "active".into(),
        name: Some(name.into()),
        sender_id: sender.map(str::to_string),
        next_renewal_date: Some(Timestamp::from_millis(epoch.millis() + 30 * 86_400_000)),
        updated_at: Some(epoch),
    };
    vec![
        number(
            DEFAULT_SENDER_PHONE_ID,
            DEFAULT_SENDER_PHONE,
            "Default sender",
            Some(DEFAULT_SENDER_ID),
        ),
        number(
            SEED_PHONE_NUMBER_ID,
            SEED_PHONE_NUMBER,
            "Client onboarding",
            None,
        ),
    ]
}
