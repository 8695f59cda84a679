//! The `/_emulator/...` test API over real HTTP: messages, waiting,
//! counters, reset, settings, and application access policies (delayed
//! application, run-time policies, DenyAccess).

use crate::common;

use common::{Emu, message};
use graphmailer_emulator::defaults as d;
use serde_json::json;

#[tokio::test]
async fn messages_can_be_listed_fetched_waited_for_and_cleared() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;

    let timed_out = emu.get("messages/wait?count=1&timeout_ms=200").await;
    assert_eq!(timed_out.status, 408);
    assert_eq!(timed_out.json["messages"], json!([]));

    let waiter = {
        let http = emu.http.clone();
        let url = format!(
            "{}/_emulator/messages/wait?count=2&timeout_ms=5000",
            emu.url()
        );
        tokio::spawn(async move { http.get(url).send().await.unwrap().status().as_u16() })
    };
    // One message is not enough for the waiter, however early it started.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("one"))
            .await
            .status,
        202
    );
    assert!(!waiter.is_finished());
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("two"))
            .await
            .status,
        202
    );
    assert_eq!(waiter.await.unwrap(), 200);

    let listed = emu.get("messages").await;
    let all = listed.json["messages"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    let id = all[1]["id"].as_str().unwrap();
    let one = emu.get(&format!("messages/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["message"]["subject"], "two");
    assert_eq!(emu.get("messages/no-such-id").await.status, 404);

    let cleared = emu.api(reqwest::Method::DELETE, "messages", None).await;
    assert_eq!(cleared.status, 204);
    assert_eq!(emu.get("messages").await.json["messages"], json!([]));
}

#[tokio::test]
async fn counters_and_reset() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    emu.send(&token, d::ERP_MAILBOX, &message("ok")).await;
    emu.send(&token, d::CEO_MAILBOX, &message("denied")).await;
    let counters = emu.get("counters").await.json;
    assert_eq!(counters["token_requests"], 1);
    assert_eq!(counters["tokens_issued"], 1);
    assert_eq!(counters["send_requests"], 2);
    assert_eq!(counters["sends_accepted"], 1);

    emu.put("settings", json!({"mailbox_concurrency": 1})).await;
    emu.put("faults", json!({"send": [{"status": 503}]})).await;
    assert_eq!(emu.post("reset", json!({})).await.status, 204);
    let counters = emu.get("counters").await.json;
    assert_eq!(counters["send_requests"], 0);
    assert_eq!(counters["token_requests"], 0);
    assert_eq!(emu.get("messages").await.json["messages"], json!([]));
    assert_eq!(emu.get("settings").await.json["mailbox_concurrency"], 4);
    assert_eq!(emu.get("faults").await.json["send"], json!([]));
    // The token issued before the reset still works.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("after"))
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn settings_are_validated() {
    let emu = Emu::start().await;
    let settings = emu.get("settings").await.json;
    assert_eq!(settings["policy_apply_delay_secs"], 0);
    assert_eq!(settings["reject_assertion_replay"], false);
    assert_eq!(settings["max_assertion_lifetime_secs"], 0);
    assert_eq!(settings["max_recipients_per_message"], 500);
    for bad in [
        json!({"mailbox_concurrency": 0}),
        json!({"rate_limit_requests": 0}),
        json!({"no_such_setting": 1}),
        json!({"policy_apply_delay_secs": 100000}),
        json!({"mailbox_concurrency": "four"}),
    ] {
        let answer = emu.put("settings", bad.clone()).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.json["error"].is_string());
    }
    let changed = emu
        .put("settings", json!({"token_lifetime_secs": 120}))
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json["token_lifetime_secs"], 120);
    let token = emu.erp_token().await;
    let c = common::claims(&token);
    let lifetime = c["exp"].as_i64().unwrap() - common::now();
    assert!((100..=121).contains(&lifetime), "{lifetime}");
    // A bad fault plan is refused too.
    let plan = emu.put("faults", json!({"send": [{"status": 200}]})).await;
    assert_eq!(plan.status, 400);
}

#[tokio::test]
async fn a_counter_can_be_waited_for_while_a_send_is_held() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    let timed_out = emu
        .get("counters/wait?name=send_requests&timeout_ms=100")
        .await;
    assert_eq!(timed_out.status, 408);
    assert_eq!(timed_out.json["send_requests"], 0);
    let unknown = emu.get("counters/wait?name=sends").await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json["error"]
            .as_str()
            .unwrap()
            .contains("send_requests"),
        "{}",
        unknown.json
    );

    // A send held by delay_ms is counted on arrival: the wait answers while
    // the send still waits for its answer.
    assert_eq!(
        emu.put("faults", json!({"delay_ms": 3000})).await.status,
        200
    );
    let held = message("held");
    let send = emu.send(&token, d::ERP_MAILBOX, &held);
    tokio::pin!(send);
    let arrived = tokio::select! {
        arrived = emu.get("counters/wait?name=send_requests&timeout_ms=5000") => arrived,
        answer = &mut send => panic!("the send was answered ({}) before the wait", answer.status),
    };
    assert_eq!(arrived.status, 200);
    assert_eq!(arrived.json["send_requests"], 1);
    assert_eq!(send.await.status, 202);
    let two = emu
        .get("counters/wait?name=send_requests&at_least=2&timeout_ms=100")
        .await;
    assert_eq!(two.status, 408);
}

#[tokio::test]
async fn policies_apply_after_the_configured_delay() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    assert_eq!(
        emu.send(&token, d::CEO_MAILBOX, &message("x")).await.status,
        403
    );

    // From now on every policy counts as just created: the ERP app may
    // send as anyone for two seconds.
    let set = emu
        .put("settings", json!({"policy_apply_delay_secs": 2}))
        .await;
    assert_eq!(set.status, 200, "{}", set.json);
    let listed = emu.get("policies").await.json;
    assert_eq!(listed["policy_apply_delay_secs"], 2);
    assert_eq!(listed["policies"][0]["in_effect"], false);
    assert_eq!(listed["policies"][0]["source"], "startup");
    assert_eq!(listed["policies"][0]["scope"], d::ERP_SENDERS_GROUP);
    assert_eq!(
        emu.send(&token, d::CEO_MAILBOX, &message("window"))
            .await
            .status,
        202
    );

    // Test-ApplicationAccessPolicy already shows the restriction.
    let test_path = format!(
        "policies/test?app_id={}&mailbox={}",
        d::ERP_CLIENT_ID,
        d::CEO_MAILBOX
    );
    let check = emu.get(&test_path).await;
    assert_eq!(check.status, 200, "{}", check.json);
    assert_eq!(check.json["AccessCheckResult"], "Denied");
    assert_eq!(check.json["EffectiveNow"], "Granted");
    assert_eq!(check.json["MailboxId"], d::CEO_MAILBOX_ID);

    emu.advance_clock(2300).await;
    assert_eq!(
        emu.get("policies").await.json["policies"][0]["in_effect"],
        true
    );
    assert_eq!(emu.get(&test_path).await.json["EffectiveNow"], "Denied");
    let unknown = emu
        .get("policies/test?app_id=x&mailbox=ceo@contoso.test")
        .await;
    assert_eq!(unknown.status, 400);
    let denied = emu.send(&token, d::CEO_MAILBOX, &message("late")).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.graph_code(), "ErrorAccessDenied");
    assert_eq!(emu.emulator.messages().len(), 1);
}

#[tokio::test]
async fn runtime_deny_policy_is_delayed_removable_and_reset() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    emu.put("settings", json!({"policy_apply_delay_secs": 1}))
        .await;
    emu.advance_clock(1100).await;

    let created = emu
        .post(
            "policies",
            json!({"app_id": d::ERP_CLIENT_ID, "scope": d::ERP_MAILBOX, "access_right": "DenyAccess",
                   "description": "no ERP as erp@"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["source"], "runtime");
    assert_eq!(created.json["in_effect"], false);
    let id = created.json["id"].as_str().unwrap().to_owned();
    // Not in effect yet.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("a")).await.status,
        202
    );
    emu.advance_clock(1100).await;
    // DenyAccess wins over the RestrictAccess group that includes erp@.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("b")).await.status,
        403
    );
    assert_eq!(
        emu.send(&token, d::BILLING_MAILBOX, &message("c"))
            .await
            .status,
        202
    );
    // The five start-up policies (ERP, Billing, Outbox, Workload, ERP VM)
    // and the new one.
    assert_eq!(
        emu.get("policies").await.json["policies"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    let removed = emu
        .api(reqwest::Method::DELETE, &format!("policies/{id}"), None)
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("d")).await.status,
        202
    );
    let again = emu
        .api(reqwest::Method::DELETE, &format!("policies/{id}"), None)
        .await;
    assert_eq!(again.status, 404);

    // Reset: the start-up set, in effect at once (delay back to 0).
    emu.post(
        "policies",
        json!({"app_id": "*", "scope": d::ERP_MAILBOX, "access_right": "DenyAccess"}),
    )
    .await;
    assert_eq!(emu.post("reset", json!({})).await.status, 204);
    let after = emu.get("policies").await.json;
    assert_eq!(after["policies"].as_array().unwrap().len(), 5);
    assert_eq!(after["policies"][0]["in_effect"], true);
    assert_eq!(after["policies"][1]["in_effect"], true);
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("e")).await.status,
        202
    );
    assert_eq!(
        emu.send(&token, d::CEO_MAILBOX, &message("f")).await.status,
        403
    );
}

#[tokio::test]
async fn runtime_restrict_policy_for_legacy_sync() {
    let emu = Emu::start().await;
    let legacy = emu
        .token(d::LEGACY_SYNC_CLIENT_ID, d::LEGACY_SYNC_SECRET)
        .await;
    assert_eq!(
        emu.send(&legacy, d::CEO_MAILBOX, &message("a"))
            .await
            .status,
        202
    );
    let created = emu
        .post(
            "policies",
            json!({"app_id": d::LEGACY_SYNC_CLIENT_ID, "group": d::ERP_SENDERS_GROUP,
                   "access_right": "RestrictAccess"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["in_effect"], true);
    assert_eq!(
        emu.send(&legacy, d::CEO_MAILBOX, &message("b"))
            .await
            .status,
        403
    );
    assert_eq!(
        emu.send(&legacy, d::BILLING_MAILBOX, &message("c"))
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn bad_policies_are_refused() {
    let emu = Emu::start().await;
    for bad in [
        json!({"app_id": d::ERP_CLIENT_ID, "scope": d::BILLING_MAILBOX, "access_right": "DenyAccess"}),
        json!({"app_id": d::ERP_CLIENT_ID, "scope": "nobody@contoso.test", "access_right": "DenyAccess"}),
        json!({"app_id": "0bad0bad-0000-4000-8000-000000000000", "scope": d::CEO_MAILBOX, "access_right": "DenyAccess"}),
        json!({"app_id": d::ERP_CLIENT_ID, "scope": d::CEO_MAILBOX, "access_right": "Maybe"}),
        json!({"app_id": d::ERP_CLIENT_ID, "scope": d::CEO_MAILBOX}),
    ] {
        let answer = emu.post("policies", bad.clone()).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.json);
    }
    // Only the five start-up policies.
    assert_eq!(
        emu.get("policies").await.json["policies"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn directory_lists_the_builtin_apps_and_managed_identities() {
    let emu = Emu::start().await;
    let directory = emu.get("directory").await.json;
    let apps = directory["tenants"][0]["apps"].as_array().unwrap();
    let names: Vec<&str> = apps
        .iter()
        .map(|a| a["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Contoso ERP",
            "Contoso Reporting",
            "Contoso Intranet",
            "Contoso Legacy Sync",
            "Contoso Billing",
            "Contoso Outbox",
            "Contoso Workload",
            "Contoso ERP VM",
            "Contoso Reports Identity"
        ]
    );
    assert_eq!(apps[7]["managed_identity"], "system_assigned");
    assert_eq!(apps[8]["managed_identity"], "user_assigned");
    assert_eq!(
        apps[6]["federated_credentials"][0]["issuer"],
        format!("{}/_emulator/oidc", emu.url())
    );
    assert_eq!(apps[4]["client_id"], d::BILLING_CLIENT_ID);
    assert_eq!(apps[4]["roles"], json!(["Mail.Send", "Mail.ReadWrite"]));
    assert!(!directory.to_string().contains(d::BILLING_SECRET));
    assert!(!directory.to_string().contains(d::LEGACY_SYNC_SECRET));
    let banner = emu.emulator.banner();
    assert_eq!(banner.client_id, d::ERP_CLIENT_ID);
    assert_eq!(banner.allowed_sender, d::ERP_MAILBOX);
    assert_eq!(banner.denied_sender, d::CEO_MAILBOX);
}

#[tokio::test]
async fn the_clock_moves_forward_on_request() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    assert_eq!(emu.get("clock").await.json["offset_ms"], 0);
    emu.advance_clock(3_000_000).await;
    // Not yet past the token's hour.
    assert_eq!(
        emu.send(&token, d::ERP_MAILBOX, &message("still valid"))
            .await
            .status,
        202
    );
    let moved = emu.post("clock/advance", json!({"secs": 700})).await;
    assert_eq!(moved.json["offset_ms"], 3_700_000);
    let expired = emu.send(&token, d::ERP_MAILBOX, &message("late")).await;
    assert_eq!(expired.status, 401, "{}", expired.json);
    assert_eq!(expired.graph_code(), "InvalidAuthenticationToken");
    // A fresh token is issued on the emulator's time, so it works again.
    let fresh = emu.erp_token().await;
    assert_eq!(
        emu.send(&fresh, d::ERP_MAILBOX, &message("fresh"))
            .await
            .status,
        202
    );
    assert_eq!(
        emu.post("clock/advance", json!({"hours": 1})).await.status,
        400
    );
}

#[tokio::test]
async fn the_oldest_messages_go_past_the_limit_and_are_counted() {
    let emu = Emu::start().await;
    let token = emu.erp_token().await;
    assert_eq!(
        emu.get("settings").await.json["max_stored_messages"],
        10_000
    );
    let set = emu.put("settings", json!({"max_stored_messages": 2})).await;
    assert_eq!(set.status, 200, "{}", set.json);
    for subject in ["one", "two", "three"] {
        assert_eq!(
            emu.send(&token, d::ERP_MAILBOX, &message(subject))
                .await
                .status,
            202
        );
    }
    let kept: Vec<String> = emu
        .emulator
        .messages()
        .iter()
        .map(|m| m.message["subject"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept, ["two", "three"]);
    assert_eq!(emu.get("counters").await.json["messages_dropped"], 1);
    assert_eq!(
        emu.put("settings", json!({"max_stored_messages": 0}))
            .await
            .status,
        400
    );
}
