//! Bot API type fidelity: every update in `tests/corpus/` is parsed both with
//! our lean types (`loyalty_core::telegram`, which build for wasm32) and with
//! `teloxide-core`'s complete ones, and the fields the bots read must agree.
//!
//! teloxide-core also validates the corpus itself: a file it cannot read, or
//! reads as `UpdateKind::Error`, is not a realistic update and fails the test.

use loyalty_core::telegram::{self as ours, Command, UpdateKind as Ours};
use std::path::PathBuf;
use teloxide_core::types::{self as tg, MaybeInaccessibleMessage, UpdateKind as Tg};

/// What each corpus file is, so a file can not silently change meaning.
/// `(file stem, our kind name, teloxide kind)`.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("01_text_command", "message", "message"),
    ("02_start_deep_link", "message", "message"),
    ("03_command_with_mention", "message", "message"),
    ("04_force_reply_answer", "message", "message"),
    ("05_edited_message", "edited_message", "edited_message"),
    ("06_callback_query", "callback_query", "callback_query"),
    ("07_callback_inaccessible_message", "callback_query", "callback_query"),
    ("08_my_chat_member_kicked", "my_chat_member", "my_chat_member"),
    ("09_web_app_data", "message", "message"),
    ("10_photo_with_caption", "message", "message"),
    ("11_group_message", "message", "message"),
    ("12_user_premium_language", "message", "message"),
    ("13_channel_post", "other", "channel_post"),
    ("14_poll", "other", "poll"),
    ("15_message_reaction", "other", "message_reaction"),
    ("16_chat_join_request", "other", "chat_join_request"),
    ("17_unicode_emoji", "message", "message"),
    ("18_start_plain", "message", "message"),
];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("corpus")
}

fn load(stem: &str) -> String {
    let path = corpus_dir().join(format!("{stem}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(stem: &str) -> (ours::Update, tg::Update) {
    let json = load(stem);
    let mine: ours::Update = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{stem}: ours: {e}"));
    let theirs: tg::Update = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{stem}: teloxide: {e}"));
    (mine, theirs)
}

fn tg_kind_name(kind: &Tg) -> &'static str {
    match kind {
        Tg::Message(_) => "message",
        Tg::EditedMessage(_) => "edited_message",
        Tg::ChannelPost(_) => "channel_post",
        Tg::CallbackQuery(_) => "callback_query",
        Tg::MyChatMember(_) => "my_chat_member",
        Tg::Poll(_) => "poll",
        Tg::MessageReaction(_) => "message_reaction",
        Tg::ChatJoinRequest(_) => "chat_join_request",
        Tg::Error(_) => "error",
        _ => "something else",
    }
}

fn tg_chat_type(chat: &tg::Chat) -> &'static str {
    if chat.is_private() {
        "private"
    } else if chat.is_group() {
        "group"
    } else if chat.is_supergroup() {
        "supergroup"
    } else if chat.is_channel() {
        "channel"
    } else {
        "unknown"
    }
}

/// The `"type"` string teloxide gives an entity kind (its serde tag).
fn tg_entity_type(e: &tg::MessageEntity) -> String {
    let v = serde_json::to_value(e).expect("entity serializes");
    v["type"].as_str().expect("entity has a type").to_string()
}

/// The `"status"` string teloxide gives a member (its serde name).
fn tg_status(m: &tg::ChatMember) -> String {
    serde_json::to_value(m.kind.status()).expect("status serializes").as_str().expect("status is a string").to_string()
}

/// The part of `text` an entity covers, using our UTF-16 offsets.
fn utf16_slice(text: &str, offset: usize, length: usize) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    String::from_utf16(&units[offset..offset + length]).expect("entity on a character boundary")
}

fn check_user(ctx: &str, mine: &ours::User, theirs: &tg::User) {
    assert_eq!(mine.id, i64::try_from(theirs.id.0).unwrap(), "{ctx}: user id");
    assert_eq!(mine.is_bot, theirs.is_bot, "{ctx}: is_bot");
    assert_eq!(mine.first_name, theirs.first_name, "{ctx}: first_name");
    assert_eq!(mine.last_name, theirs.last_name, "{ctx}: last_name");
    assert_eq!(mine.username, theirs.username, "{ctx}: username");
    assert_eq!(mine.language_code, theirs.language_code, "{ctx}: language_code");
}

fn check_chat(ctx: &str, mine: &ours::Chat, theirs: &tg::Chat) {
    assert_eq!(mine.id, theirs.id.0, "{ctx}: chat id");
    assert_eq!(mine.kind, tg_chat_type(theirs), "{ctx}: chat type");
    assert_eq!(mine.is_private(), theirs.is_private(), "{ctx}: is_private");
    assert_eq!(mine.title.as_deref(), theirs.title(), "{ctx}: title");
    assert_eq!(mine.username.as_deref(), theirs.username(), "{ctx}: chat username");
    assert_eq!(mine.first_name.as_deref(), theirs.first_name(), "{ctx}: chat first_name");
}

fn check_message(ctx: &str, mine: &ours::Message, theirs: &tg::Message) {
    assert_eq!(mine.message_id, i64::from(theirs.id.0), "{ctx}: message_id");
    assert_eq!(mine.date, theirs.date.timestamp(), "{ctx}: date");
    check_chat(ctx, &mine.chat, &theirs.chat);
    match (&mine.from, &theirs.from) {
        (Some(m), Some(t)) => check_user(ctx, m, t),
        (None, None) => {}
        (m, t) => panic!("{ctx}: from differs: {m:?} vs {t:?}"),
    }
    assert_eq!(mine.text.as_deref(), theirs.text(), "{ctx}: text");
    assert_eq!(mine.caption.as_deref(), theirs.caption(), "{ctx}: caption");
    assert_eq!(mine.text_or_caption(), theirs.text().or(theirs.caption()), "{ctx}: text_or_caption");

    let my_entities = mine.entities.as_deref().unwrap_or_default();
    let their_entities = theirs.entities().unwrap_or_default();
    assert_eq!(my_entities.len(), their_entities.len(), "{ctx}: number of entities");
    for (m, t) in my_entities.iter().zip(their_entities) {
        assert_eq!(m.kind, tg_entity_type(t), "{ctx}: entity type");
        assert_eq!((m.offset, m.length), (t.offset, t.length), "{ctx}: entity span");
    }
    // The spans cover the same text for both (teloxide converts UTF-16 offsets itself).
    if let (Some(text), Some(refs)) = (mine.text.as_deref(), theirs.parse_entities()) {
        for (m, r) in my_entities.iter().zip(&refs) {
            let covered = utf16_slice(text, m.offset, m.length);
            assert_eq!(covered, r.text(), "{ctx}: entity text");
            // A realistic corpus: entities Telegram detects cover what they name.
            let prefix = match m.kind.as_str() {
                "bot_command" => Some('/'),
                "mention" => Some('@'),
                "hashtag" => Some('#'),
                _ => None,
            };
            if let Some(p) = prefix {
                assert!(covered.starts_with(p), "{ctx}: {} entity covers {covered:?}", m.kind);
            }
        }
    }

    match (&mine.web_app_data, theirs.web_app_data()) {
        (Some(m), Some(t)) => {
            assert_eq!(m.data, t.data, "{ctx}: web_app_data.data");
            assert_eq!(m.button_text, t.button_text, "{ctx}: web_app_data.button_text");
        }
        (None, None) => {}
        (m, t) => panic!("{ctx}: web_app_data differs: {m:?} vs {t:?}"),
    }

    match (mine.reply_to_message.as_deref(), theirs.reply_to_message()) {
        (Some(m), Some(t)) => check_message(&format!("{ctx} > reply_to_message"), m, t),
        (None, None) => {}
        (m, t) => panic!("{ctx}: reply_to_message differs: {m:?} vs {t:?}"),
    }
}

fn check_callback(ctx: &str, mine: &ours::CallbackQuery, theirs: &tg::CallbackQuery) {
    assert_eq!(mine.id, theirs.id.0, "{ctx}: callback id");
    check_user(ctx, &mine.from, &theirs.from);
    assert_eq!(mine.data, theirs.data, "{ctx}: callback data");
    assert_eq!(mine.chat_instance, theirs.chat_instance, "{ctx}: chat_instance");
    match (&mine.message, &theirs.message) {
        (Some(m), Some(MaybeInaccessibleMessage::Regular(t))) => {
            assert_ne!(m.date, 0, "{ctx}: an accessible message has a date");
            check_message(ctx, m, t);
        }
        (Some(m), Some(MaybeInaccessibleMessage::Inaccessible(t))) => {
            assert_eq!(m.date, 0, "{ctx}: an inaccessible message has date 0");
            assert_eq!(m.message_id, i64::from(t.message_id.0), "{ctx}: inaccessible message_id");
            check_chat(ctx, &m.chat, &t.chat);
            assert_eq!(m.text, None, "{ctx}: inaccessible message has no text");
        }
        (None, None) => {}
        (m, t) => panic!("{ctx}: callback message differs: {m:?} vs {t:?}"),
    }
}

fn check_member(ctx: &str, mine: &ours::ChatMemberUpdated, theirs: &tg::ChatMemberUpdated) {
    check_chat(ctx, &mine.chat, &theirs.chat);
    check_user(ctx, &mine.from, &theirs.from);
    assert_eq!(mine.date, theirs.date.timestamp(), "{ctx}: date");
    assert_eq!(mine.old_chat_member.status, tg_status(&theirs.old_chat_member), "{ctx}: old status");
    assert_eq!(mine.new_chat_member.status, tg_status(&theirs.new_chat_member), "{ctx}: new status");
    check_user(ctx, &mine.old_chat_member.user, &theirs.old_chat_member.user);
    check_user(ctx, &mine.new_chat_member.user, &theirs.new_chat_member.user);
}

fn check(stem: &str, our_kind: &str, their_kind: &str) {
    let (mine, theirs) = parse(stem);
    assert_eq!(mine.update_id, i64::from(theirs.id.0), "{stem}: update_id");
    assert_eq!(mine.kind_name(), our_kind, "{stem}: our kind");
    assert_eq!(tg_kind_name(&theirs.kind), their_kind, "{stem}: teloxide kind");
    match (mine.kind(), &theirs.kind) {
        (Ours::Message(m), Tg::Message(t)) | (Ours::EditedMessage(m), Tg::EditedMessage(t)) => {
            check_message(stem, m, t)
        }
        (Ours::CallbackQuery(m), Tg::CallbackQuery(t)) => check_callback(stem, m, t),
        (Ours::MyChatMember(m), Tg::MyChatMember(t)) => check_member(stem, m, t),
        (Ours::Other, _) => {
            // Kinds we do not handle: no sender, nothing for the bots to read.
            assert_eq!(mine.from(), None, "{stem}: other kinds have no sender for us");
            return;
        }
        (m, _) => panic!("{stem}: kinds differ: ours {m:?}, teloxide {their_kind}"),
    }
    match (mine.from(), theirs.from()) {
        (Some(m), Some(t)) => check_user(stem, m, t),
        (m, t) => panic!("{stem}: sender differs: {m:?} vs {t:?}"),
    }
    let their_chat = theirs.chat().map(|c| c.id.0);
    let my_chat = match mine.kind() {
        Ours::Message(m) | Ours::EditedMessage(m) => Some(m.chat.id),
        Ours::CallbackQuery(c) => c.message.as_ref().map(|m| m.chat.id),
        Ours::MyChatMember(m) => Some(m.chat.id),
        Ours::Other => None,
    };
    assert_eq!(my_chat, their_chat, "{stem}: update chat");
}

#[test]
fn corpus_is_complete_and_covered() {
    let mut stems: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    stems.sort();
    let expected: Vec<&str> = EXPECTED.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(stems, expected, "every corpus file needs an EXPECTED row, and every row a file");
    assert!(stems.len() >= 14);
}

#[test]
fn ours_and_teloxide_agree_on_every_corpus_update() {
    for (stem, our_kind, their_kind) in EXPECTED {
        check(stem, our_kind, their_kind);
    }
}

#[test]
fn our_types_round_trip_through_serde() {
    for (stem, _, _) in EXPECTED {
        let (mine, _) = parse(stem);
        let again: ours::Update = serde_json::from_value(serde_json::to_value(&mine).unwrap()).unwrap();
        assert_eq!(again, mine, "{stem}");
    }
}

fn command(stem: &str) -> (String, Option<String>, String) {
    let (mine, _) = parse(stem);
    let Ours::Message(m) = mine.kind() else { panic!("{stem}: not a message") };
    let c: Command<'_> = m.command().unwrap_or_else(|| panic!("{stem}: no command"));
    (c.name, c.mention.map(str::to_string), c.args.to_string())
}

#[test]
fn commands_in_the_corpus_parse_as_the_bots_expect() {
    assert_eq!(command("01_text_command"), ("balance".into(), None, "".into()));
    assert_eq!(command("02_start_deep_link"), ("start".into(), None, "ref_K7QX2M9P".into()));
    assert_eq!(command("18_start_plain"), ("start".into(), None, "".into()));
    assert_eq!(
        command("03_command_with_mention"),
        ("credit".into(), Some("LoyaltyPartnerBot".into()), "K7QX2M9P 150000".into())
    );
    let (mine, _) = parse("05_edited_message");
    let Ours::EditedMessage(m) = mine.kind() else { panic!("not an edit") };
    assert_eq!(m.command().map(|c| c.name), Some("history".into()));
    // Not commands.
    for stem in ["04_force_reply_answer", "11_group_message", "12_user_premium_language", "17_unicode_emoji"] {
        let (mine, _) = parse(stem);
        let Ours::Message(m) = mine.kind() else { panic!("{stem}: not a message") };
        assert_eq!(m.command(), None, "{stem}");
    }
}

#[test]
fn specific_shapes_the_bots_rely_on() {
    // A force-reply answer carries the bot's question.
    let (mine, _) = parse("04_force_reply_answer");
    let Ours::Message(m) = mine.kind() else { panic!() };
    let asked = m.reply_to_message.as_deref().expect("reply_to_message");
    assert!(asked.from.as_ref().is_some_and(|u| u.is_bot));
    assert!(asked.text.as_deref().is_some_and(|t| t.starts_with("How much")));
    assert_eq!(m.text.as_deref(), Some("125000"));

    // Blocking the bot: member → kicked.
    let (mine, _) = parse("08_my_chat_member_kicked");
    let Ours::MyChatMember(c) = mine.kind() else { panic!() };
    assert_eq!((c.old_chat_member.status.as_str(), c.new_chat_member.status.as_str()), ("member", "kicked"));
    assert!(c.chat.is_private());

    // A photo's caption is what the bots read.
    let (mine, _) = parse("10_photo_with_caption");
    let Ours::Message(m) = mine.kind() else { panic!() };
    assert_eq!(m.text, None);
    assert!(m.text_or_caption().is_some_and(|c| c.starts_with("Receipt")));

    // Mini App data.
    let (mine, _) = parse("09_web_app_data");
    let Ours::Message(m) = mine.kind() else { panic!() };
    let data = m.web_app_data.as_ref().expect("web_app_data");
    let v: serde_json::Value = serde_json::from_str(&data.data).expect("the app sends JSON");
    assert_eq!(v["action"], "show_card");

    // Group chats are not private.
    let (mine, _) = parse("11_group_message");
    assert!(!mine.message.as_ref().unwrap().chat.is_private());

    // An inaccessible message still names its chat.
    let (mine, _) = parse("07_callback_inaccessible_message");
    let Ours::CallbackQuery(c) = mine.kind() else { panic!() };
    assert_eq!(c.message.as_ref().map(|m| (m.date, m.chat.id)), Some((0, c.from.id)));
}
