use super::*;

/// The English texts.
pub(super) struct En;

impl Texts for En {
    // ------------------------------------------------------------ common
    fn fixed(&self, m: Fixed) -> &'static str {
        use Fixed::*;
        match m {
            // common
            InternalError => "Something went wrong on our side. The team has been notified; please try again later.",
            LanguageName => "🇬🇧 English",
            EnglishName => "English",
            // client bot
            Blocked => "⛔ Your account is blocked: you cannot earn or spend points. Please contact support.",
            NeedStart => "To get started, send /start.",
            HelpTitle => "Here is what I can do:",
            HelpCommands => {
                "Commands: /balance /history /card /partners /rewards /vouchers /invite /ask /language /app /birthday /stamps /mydata /erase /menu"
            }
            Unknown => "🤔 Sorry, I did not get that. Please use the menu buttons.",
            BalanceRecent => "Recent operations:",
            NoHistory => "📜 No operations yet.",
            HistoryTitle => "📜 Recent operations:",
            NoPartnersYet => "🏪 No partners yet — coming soon!",
            CameFromPartner => "📍 You came from this partner — show your card there:",
            PartnersTitle => "🏪 Where to earn and spend points:",
            AskPrompt => "Ask a question about the program — reply to this message.",
            AskPlaceholder => "Your question",
            AssistantUnavailable => {
                "💬 The assistant is not available right now. See “🏪 Partners” or ask at the checkout."
            }
            Thinking => "🤔 Thinking…",
            AssistantFailed => "😔 Sorry, I could not answer that right now. Please try again a bit later.",
            ProgramFallback => "loyalty program",
            LanguageChoose => "🌐 Choose your language:",
            LanguageSet => "✅ Language: English.",
            AppOpen => "📱 Open the program's app:",
            AppUnavailable => "📱 The app is not available yet — you can do everything right here in the chat.",
            AdminAppInGroup => {
                "📱 In a group Telegram opens no app from a button: open the program's figures from this bot's profile (its Main Mini App)."
            }
            CardCodeExpired => "⌛ This card code has expired: ask the customer to show the card in the app again.",
            RedemptionConfirmedToast => "✅ Payment confirmed",
            RedemptionDeclinedToast => "Request declined",
            AlreadyConfirmed => "Already confirmed",
            AlreadyDeclined => "Already declined",
            StaleButton => "This button is no longer active.",
            // partner bot
            ApplyPrompt => {
                "<b>Become a partner of the loyalty program.</b>\nYour customers earn points on every purchase and pay \
                 with them at your place; you credit and redeem points right here.\n\nTo apply, <b>reply to this \
                 message</b> with your business name and category separated by a semicolon, for example:\n\
                 <code>Pho 24; cafe</code>"
            }
            ApplyPlaceholder => "Business name; category",
            ApplicationFormatError => {
                "Please send the business name (up to 100 characters) and the category (up to 50) in one line, \
                 separated by a semicolon, for example: <code>Pho 24; cafe</code>. Reply to this message."
            }
            ApplicationRejected => "Your application was declined. You may apply again with /apply.",
            ApplicationWaiting => "⏳ Your application is waiting for approval. We will write here.",
            Suspended => "⛔ Your partner account is suspended. Please contact the program's administrators.",
            NotAPartner => "You are not a partner of the program yet. Send /start to apply.",
            OwnerOnly => {
                "Only a partner's owner can do this; cashiers credit, take payments in points, stamp and accept vouchers. Not a partner yet? Send /start to apply."
            }
            PartnerHelp => {
                "<b>Commands</b>\n\
                 Scan the customer's QR card, or send their code, to open it.\n\
                 /credit <code>CODE PURCHASE</code> — credit points for a purchase\n\
                 /redeem <code>CODE POINTS PURCHASE</code> — ask the customer to pay with points\n\
                 /reverse <code>ID</code> — reverse an operation (within 24 h)\n\
                 /stats — your figures for today and 7 days\n\
                 /apikey — a key for your POS system (a new one replaces it); /apikey revoke — none\n\
                 /campaign — run a campaign at your place; /campaigns — yours\n\
                 /reward — publish a reward for points; /rewards — yours; /voucher <code>CODE</code> — accept a voucher\n\
                 /stamps <code>N REWARD</code> — run a stamp card; /stamp <code>CODE</code> — a stamp for a visit\n\
                 /staff — your cashiers: invite and revoke\n\
                 /webhooks — your endpoints for signed events; /webhook_add <code>URL EVENTS</code>, /webhook_remove <code>ID</code>\n\
                 /app — the program's app\n\
                 /help — this list"
            }
            CustomerCardBlocked => "⛔ This account is blocked: no points can be credited or redeemed.",
            ButtonCredit => "➕ Credit purchase",
            ButtonRedeem => "🎁 Pay with points",
            CreditPrompt => "purchase amount? Reply with a number, e.g. 1500.",
            AmountPlaceholder => "Purchase amount",
            RedeemPrompt => "points to pay and the purchase amount? Reply with two numbers, e.g. 100 5000.",
            RedeemPlaceholder => "Points Purchase",
            BadAmount => "Amounts are positive whole numbers, e.g. 1500 or 1 500.",
            UsageCredit => "Usage: /credit <code>CODE PURCHASE</code>, e.g. <code>/credit ABCD2345 1500</code>",
            UsageRedeem => {
                "Usage: /redeem <code>CODE POINTS PURCHASE</code>, e.g. <code>/redeem ABCD2345 100 5000</code>"
            }
            UsageReverse => {
                "Usage: /reverse <code>ID</code> with the operation number from the confirmation, \
                 e.g. <code>/reverse 42</code>"
            }
            ButtonConfirm => "✅ Confirm",
            ButtonDecline => "✖️ Decline",
            // admin bot
            Refusal => "This bot serves the program's administrators only.",
            AdminHelp => {
                "<b>Admin commands</b>\n\
                 /pending — applications waiting, with Approve / Reject buttons\n\
                 /partners — all partners with status and terms\n\
                 /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — decide about a partner\n\
                 /adjust <code>CODE ±POINTS REASON</code> — correct a customer's balance\n\
                 /block <code>CODE</code>, /unblock <code>CODE</code> — block or unblock a customer\n\
                 /broadcast <code>customers|partners TEXT</code> — message everyone\n\
                 /stats — program figures\n\
                 /rules — the program's rules; <code>/rules JSON</code> sets a new version\n\
                 /campaign <code>JSON</code> — a campaign; /campaigns — all, with what each paid of its budget\n\
                 /campaign_approve <code>ID</code>, /campaign_reject <code>ID</code>, /campaign_end <code>ID</code> — decide or stop one\n\
                 /rewards — partners' rewards waiting; /reward_approve <code>ID</code>, /reward_reject <code>ID</code>, /reward_withdraw <code>ID</code>\n\
                 /audit — the audit log: adjustments, blocks, partner decisions, erasures\n\
                 /erase <code>CODE</code> — erase a customer's personal data on their request\n\
                 /webhooks — the program's endpoints for signed events; /webhook_add <code>URL EVENTS</code>, /webhook_remove <code>ID</code>\n\
                 /help — this list"
            }
            ButtonApprove => "✅ Approve",
            ButtonReject => "✖️ Reject",
            NoPending => "No applications are waiting.",
            NoPartners => "No partners yet.",
            UsageAdjust => {
                "Usage: /adjust <code>CODE ±POINTS REASON</code>, e.g. <code>/adjust ABCD2345 -50 duplicate purchase</code>"
            }
            ReasonRequired => "A reason is required (up to 200 characters); the customer will see it.",
            UsageBroadcast => {
                "Usage: /broadcast <code>customers TEXT</code> or /broadcast <code>partners TEXT</code>. \
                 The text is sent as written."
            }
        }
    }
    fn points(&self, n: Points) -> String {
        format!("{} {}", Pts(n), if n.unsigned_abs() == 1 { "point" } else { "points" })
    }
    fn decimal_sep(&self) -> char {
        '.'
    }
    fn entry_kind(&self, kind: EntryKind) -> &'static str {
        match kind {
            EntryKind::WelcomeBonus => "Welcome bonus",
            EntryKind::ReferralBonus => "Referral bonus",
            EntryKind::Accrual => "Purchase",
            EntryKind::Redemption => "Paid with points",
            EntryKind::Reversal => "Correction",
            EntryKind::Adjustment => "Adjustment",
            EntryKind::Import => "Balance carried over",
            EntryKind::Legacy => "Earlier history",
            EntryKind::Expiry => "Points expired",
        }
    }
    fn rejection(&self, r: &Rejection) -> String {
        use Rejection::*;
        match r {
            UnknownCustomer => "No customer with this code. Check the code on the customer's card.".into(),
            UnknownPartner => "This partner is not registered.".into(),
            UnknownEntry => "No such operation of yours.".into(),
            UnknownRedemption => "This request no longer exists.".into(),
            CustomerBlocked => "This account is blocked. Please contact support.".into(),
            PartnerNotApproved { .. } => "Your partner account is not approved yet.".into(),
            InsufficientBalance { balance, requested } => {
                format!("Not enough points: the balance is {}, {} needed.", Pts(*balance), Pts(*requested))
            }
            ExceedsMaxShare { max } => format!("At most {} points can pay for this purchase.", Pts(*max)),
            DailyLimitExceeded { remaining } => {
                format!("Daily credit limit reached: {} points left today.", Pts(*remaining))
            }
            InvalidAmount => "The amount must be a positive whole number.".into(),
            AlreadyReversed => "This operation has already been reversed.".into(),
            NotReversible => "Only purchases and payments with points can be reversed.".into(),
            ReversalWindowClosed => "Operations can be reversed only within 24 hours.".into(),
            RedemptionExpired => "This request has expired. Ask the cashier to send a new one.".into(),
            RedemptionClosed { .. } => "This request has already been answered.".into(),
            NotYourRedemption => "This request is addressed to someone else.".into(),
            IdempotencyConflict => "This operation was already submitted with different details.".into(),
            CodeTaken => "Please try again.".into(),
            InvalidTransition => "This partner's status does not allow that.".into(),
            AlreadyPartner => "You are already registered as a partner.".into(),
            InvalidImport => "The import batch is invalid.".into(),
            InvalidRules { reason } => format!("The rules document is invalid: {reason}"),
            InvalidCampaign { reason } => format!("The campaign is invalid: {reason}"),
            UnknownCampaign => "No such campaign.".into(),
            CampaignClosed { status } => {
                format!("The campaign is {} and cannot be changed that way.", self.campaign_status(*status))
            }
            PartnerCampaignsOff => "The program does not let partners run campaigns.".into(),
            BirthdayAlreadySet { birthday } => {
                format!(
                    "Your birthday is already set ({:02}.{:02}); it can be set only once.",
                    birthday.day, birthday.month
                )
            }
            InvalidReward { reason } => format!("The reward is invalid: {reason}"),
            InvalidStampCard { reason } => format!("The stamp card is invalid: {reason}"),
            NoStampCard => "This partner runs no stamp card.".into(),
            UnknownReward => "No such reward.".into(),
            RewardUnavailable => "This reward cannot be claimed now.".into(),
            OutOfStock => "This reward is out of stock.".into(),
            RewardClosed { .. } => "This reward has already been decided on.".into(),
            UnknownVoucher => "No such voucher here. Check the code.".into(),
            VoucherClosed { status } => match status {
                VoucherStatus::Used => "This voucher has already been used.".into(),
                _ => "This voucher was cancelled.".into(),
            },
            InvalidInvite => "This invitation link is not valid: it expired, was revoked or was used by someone else. Ask the partner for a new one.".into(),
            StaffLimit { max } => format!("A partner can have at most {max} cashiers and open invitations. Revoke one first (/staff)."),
            AlreadyStaff => "You are already a cashier. Ask your partner to revoke you first.".into(),
            UnknownStaff => "No such cashier of yours.".into(),
            InvalidWebhook { reason } => format!("The webhook endpoint is invalid: {reason}"),
            WebhookLimit { max } => format!("At most {max} webhook endpoints; remove one first."),
            UnknownWebhook => "No such webhook endpoint.".into(),
        }
    }
    // -------------------------------------------------------- client bot
    fn button(&self, b: Button) -> &'static str {
        match b {
            Button::Balance => "💰 Balance",
            Button::History => "📜 History",
            Button::Card => "💳 My card",
            Button::Partners => "🏪 Partners",
            Button::Rewards => "🛍 Rewards",
            Button::Invite => "🎁 Invite a friend",
            Button::Ask => "💬 Ask a question",
            Button::Language => "🌐 Language",
            Button::App => "📱 Open app",
        }
    }
    fn welcome(&self, name: Esc, bonus_line: &str, balance: Points) -> String {
        format!(
            "👋 Welcome, {name}!\nYou have joined the loyalty program: earn points at our partners and pay with them.{bonus_line}\nYour balance: <b>{}</b>.\n\nTap “💳 My card” and show the QR code at the checkout.",
            self.points(balance)
        )
    }
    fn welcome_bonus(&self, bonus: Points) -> String {
        format!("\n🎁 Welcome bonus: <b>{}</b>.", self.points(bonus))
    }
    fn welcome_back(&self, name: Esc, balance: Points) -> String {
        format!("👋 Welcome back, {name}! Your balance: <b>{}</b>.", self.points(balance))
    }
    fn referral_credited(&self, friend: Esc, bonus: Points, balance: Points) -> String {
        let (bonus, balance) = (self.points(bonus), self.points(balance));
        format!("🎉 {friend} joined through your link! You got <b>{bonus}</b>. Balance: <b>{balance}</b>.")
    }
    fn help_lines(&self) -> [&'static str; 8] {
        [
            "your points balance",
            "recent operations",
            "QR code for the cashier",
            "where to earn and spend points",
            "spend points on rewards; /vouchers — yours",
            "a link for your friends",
            "ask the assistant",
            "change the language",
        ]
    }
    fn balance(&self, balance: Points) -> String {
        format!("💰 Your balance: <b>{}</b>", self.points(balance))
    }
    fn card_caption(&self, code: Esc) -> String {
        format!("💳 Your card. Show the QR code to the cashier or tell them your code: <code>{code}</code>")
    }
    fn card_code_only(&self, code: Esc) -> String {
        format!("💳 Your customer code: <code>{code}</code>\nTell it to the cashier.")
    }
    fn partner_offer(&self, name: Esc, category: Esc, earn: &str, share: &str) -> String {
        format!("• <b>{name}</b> ({category}): {earn} % back, pay up to {share} % of a purchase with points")
    }
    fn partners_more(&self, more: usize) -> String {
        format!("…and {more} more")
    }
    fn invite(&self, link: Esc, reward: &str) -> String {
        format!("🎁 Invite friends with your personal link.{reward}\n\n{link}")
    }
    fn invite_reward(&self, bonus: Points) -> String {
        format!(" When a friend joins, you get <b>{}</b>.", self.points(bonus))
    }
    fn invite_code_only(&self, code: Esc, reward: &str) -> String {
        format!("🎁 Ask a friend to send this bot: <code>/start ref_{code}</code>.{reward}")
    }
    fn invite_code_reward(&self, bonus: Points) -> String {
        format!(" You will get <b>{}</b>.", self.points(bonus))
    }
    fn question_too_long(&self, max: usize) -> String {
        format!("✂️ That question is too long. Please keep it under {max} characters.")
    }
    fn quota_exhausted(&self, limit: u32) -> String {
        let questions = if limit == 1 { "question" } else { "questions" };
        format!("⏳ You have asked {limit} {questions} today, which is the daily limit. Come back tomorrow!")
    }
    fn redemption_confirmed(&self, partner: Esc, paid: Points, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!("✅ You paid <b>{paid}</b> at {partner}.\nBalance: <b>{balance}</b>.")
    }
    fn redemption_declined(&self, partner: Esc, requested: Points) -> String {
        format!("❌ You declined paying <b>{}</b> at {partner}. No points were taken.", self.points(requested))
    }
    fn partner_confirmed(&self, code: Esc, paid: Points, request: i64, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!("✅ Customer <code>{code}</code> paid <b>{paid}</b> for request #{request}. Their balance: {balance}.")
    }
    fn partner_declined(&self, code: Esc, requested: Points, request: i64) -> String {
        let requested = self.points(requested);
        format!("❌ Customer <code>{code}</code> declined paying <b>{requested}</b> for request #{request}.")
    }
    // ------------------------------------------------------- partner bot
    fn application_received(&self, name: Esc, category: Esc) -> String {
        format!(
            "✅ Application received: <b>{name}</b> ({category}).\nAn administrator will review it soon; \
             you will get a message here."
        )
    }
    fn application_pending(&self, name: Esc) -> String {
        format!("⏳ Your application for <b>{name}</b> is waiting for approval. We will write here.")
    }
    fn partner_greeting(&self, name: Esc) -> String {
        format!("👋 <b>{name}</b>, you are a partner of the program.")
    }
    fn customer_card(&self, name: Esc, code: &str, balance: Pts) -> String {
        format!("👤 <b>{name}</b>, card <code>{code}</code>\nBalance: <b>{balance}</b> points")
    }
    fn partner_bad_code(&self, input: Esc) -> String {
        format!("«{input}» is not a customer code: a code has 8 letters and digits, e.g. ABCD2345.")
    }
    fn credited(
        &self,
        points: Signed,
        name: Esc,
        code: &str,
        purchase: Pts,
        balance: Pts,
        entry: EntryId,
        undo: bool,
    ) -> String {
        format!(
            "✅ <b>{points}</b> points to {name} (<code>{code}</code>) for a purchase of {purchase}.\n\
             Customer's balance: {balance}. Operation #{entry}{}",
            if undo { format!("; to undo: /reverse {entry}") } else { ".".into() }
        )
    }
    fn credited_nothing(&self, code: &str, purchase: Pts) -> String {
        format!("A purchase of {purchase} is too small to earn points; nothing was credited to {code}.")
    }
    fn customer_credited(&self, points: Signed, partner: Esc, balance: Pts) -> String {
        format!("🎉 <b>{points}</b> points at {partner}. Your balance: <b>{balance}</b>.")
    }
    fn redemption_sent(&self, id: RedemptionId, name: Esc, code: &str, points: Pts, purchase: Pts) -> String {
        format!(
            "📨 Request #{id} sent to {name} (<code>{code}</code>): pay <b>{points}</b> points for a purchase of \
             {purchase}.\nWaiting for the customer's confirmation (10 min); points are debited only when they confirm."
        )
    }
    fn customer_redemption_request(&self, partner: Esc, points: Pts, purchase: Pts, balance: Pts) -> String {
        format!(
            "🎁 <b>{partner}</b> asks to pay <b>{points}</b> points for a purchase of {purchase}.\n\
             Your balance: {balance}. Confirm within 10 minutes?"
        )
    }
    fn reversed(&self, original: EntryId, amount: Signed, code: &str, balance: Pts) -> String {
        format!("↩️ Operation #{original} reversed: {amount} points to <code>{code}</code>. Balance: {balance}.")
    }
    fn customer_reversed(&self, partner: Esc, amount: Signed, balance: Pts) -> String {
        format!("↩️ {partner} cancelled an operation: <b>{amount}</b> points. Your balance: <b>{balance}</b>.")
    }
    fn partner_stats_labels(&self) -> [&'static str; 5] {
        ["📊 <b>Today / 7 days</b>", "Customers", "Purchases", "Points issued", "Points redeemed"]
    }
    fn api_key(&self, key: &str) -> String {
        format!(
            "🔑 Your POS API key:\n<code>{key}</code>\n\nIt is shown only once: store it safely and keep it secret. \
             Send it as <code>Authorization: Bearer …</code>. A new /apikey replaces this key."
        )
    }
    fn api_key_revoked(&self) -> &'static str {
        "🔒 Your POS key is revoked: it no longer works. /apikey makes a new one."
    }
    fn points_expiring_soon(&self, points: Points, date: &str) -> String {
        format!("⏳ {} expire within 30 days, the first on {date}.", self.points(points))
    }
    fn expiry_reminder(&self, points: Points, date: &str) -> String {
        format!("⏳ Reminder: {} expire on {date}. Spend them at our partners before then!", self.points(points))
    }
    fn points_expired(&self, points: Points, balance: Points) -> String {
        format!("⌛ {} expired unused. Your balance: <b>{}</b>.", self.points(points), self.points(balance))
    }
    fn tier_changed(&self, up: bool, name: Option<Esc>) -> String {
        match (up, name) {
            (true, Some(n)) => format!("🏅 Congratulations! Your tier is now <b>{n}</b>."),
            (false, Some(n)) => format!("Your tier is now <b>{n}</b>."),
            (_, None) => "Your tier has ended. New purchases earn it again.".into(),
        }
    }
    fn earned_base(&self, base: Pts) -> String {
        format!("{base} base")
    }
    fn campaign_status(&self, status: CampaignStatus) -> &'static str {
        match status {
            CampaignStatus::Pending => "waiting for approval",
            CampaignStatus::Active => "running",
            CampaignStatus::Rejected => "rejected",
            CampaignStatus::Ended => "ended",
        }
    }
    fn tier_status(&self, name: Esc, times: &str) -> String {
        format!("🏅 Tier: <b>{name}</b> (points × {times})")
    }
    fn tiers_line(&self, counts: &str) -> String {
        format!("🏅 Customers per tier: {counts}")
    }
    fn reward_status(&self, status: RewardStatus) -> &'static str {
        match status {
            RewardStatus::Pending => "waiting for approval",
            RewardStatus::Active => "shown",
            RewardStatus::Rejected => "rejected",
            RewardStatus::Withdrawn => "withdrawn",
        }
    }
    fn reward_head(&self, id: RewardId, title: Esc, partner: Esc, price: Pts) -> String {
        format!("🎁 <b>{title}</b> — {price} points\n🏪 {partner} · #{id}")
    }
    fn reward_left(&self, left: u32) -> String {
        format!("{left} left")
    }
    fn rewards_title(&self, category: Option<Esc>) -> String {
        match category {
            Some(c) => format!("🛍 <b>Rewards: {c}</b>"),
            None => "🛍 <b>Rewards you can claim</b>".into(),
        }
    }
    fn rewards_none(&self) -> &'static str {
        "No rewards to claim right now. Check back later!"
    }
    fn rewards_more(&self) -> &'static str {
        "More ▶"
    }
    fn rewards_first(&self) -> &'static str {
        "⏮ Back to the start"
    }
    fn rewards_at(&self, partner: &str) -> String {
        format!("🏪 More from {partner}")
    }
    fn reward_card(&self, line: &str, description: Esc) -> String {
        if description.0.is_empty() { line.to_owned() } else { format!("{line}\n\n{description}") }
    }
    fn reward_claim_button(&self, price: Pts) -> String {
        format!("🎁 Claim for {price} points")
    }
    fn voucher_issued(&self, title: Esc, partner: Esc, code: &str, balance: Points) -> String {
        format!(
            "🎟 Your voucher for <b>{title}</b> at {partner}:\n\n<code>{code}</code>\n\nShow this code at the counter; \
             it can be used once. Balance: <b>{}</b>.",
            self.points(balance)
        )
    }
    fn voucher_again(&self, title: Esc, code: &str) -> String {
        format!("🎟 You already claimed <b>{title}</b> here: your voucher is <code>{code}</code>.")
    }
    fn voucher_cancel_button(&self) -> &'static str {
        "✖️ Cancel and get the points back"
    }
    fn voucher_cancelled(&self, title: Esc, points: Points, balance: Points) -> String {
        format!(
            "The voucher for <b>{title}</b> is cancelled: {} back. Balance: <b>{}</b>.",
            self.points(points),
            self.points(balance)
        )
    }
    fn vouchers_title(&self) -> &'static str {
        "🎟 <b>Your vouchers</b> (show the code at the counter)"
    }
    fn vouchers_none(&self) -> &'static str {
        "You have no vouchers. Claim one with /rewards."
    }
    fn voucher_used_notice(&self, title: Esc, partner: Esc) -> String {
        format!("✅ Your voucher for <b>{title}</b> was used at {partner}. Enjoy!")
    }
    fn mydata_caption(&self) -> &'static str {
        "📄 Your data in this program: your profile, birthday, every operation and every voucher (your stamps: \
         /stamps). /erase deletes your personal data."
    }
    fn erase_confirm(&self, balance: Points) -> String {
        format!(
            "⚠️ <b>Erase your personal data?</b>\n\nYour name, username, Telegram account and birthday are deleted \
             from the program; your operations stay, anonymised, in the partners' accounts. Your {} are lost and your \
             card stops working. This cannot be undone; /start later makes you a new customer.",
            self.points(balance)
        )
    }
    fn erase_button(&self) -> &'static str {
        "🗑 Erase my data"
    }
    fn erased(&self) -> &'static str {
        "Your personal data is erased. Goodbye! /start makes you a new customer at any time."
    }
    fn erase_expired(&self) -> &'static str {
        "This button has expired. Send /erase again if you still want your data erased."
    }
    fn stamp_given_before(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!(
            "This stamp for {name} was given before ({dots} {stamps}/{needed}). For a new visit, scan the card again."
        )
    }
    fn erase_usage(&self) -> &'static str {
        "Usage: /erase <code>CODE</code> shows the customer; <code>/erase CODE confirm</code> erases their personal \
         data (on their request; it cannot be undone)."
    }
    fn erase_check(&self, name: Esc, code: &str, balance: Points) -> String {
        format!(
            "{name} (<code>{code}</code>), {}: send <code>/erase {code} confirm</code> to erase their personal data. \
             The points stay on the anonymised record.",
            self.points(balance)
        )
    }
    fn customer_erased(&self, id: CustomerId, replayed: bool) -> String {
        if replayed {
            format!("Customer #{id} was erased before; nothing changed.")
        } else {
            format!("🗑 Customer #{id} is erased: only the anonymised record and its operations remain.")
        }
    }
    fn audit_title(&self) -> &'static str {
        "<b>Audit log</b> (newest first, UTC)"
    }
    fn audit_none(&self) -> &'static str {
        "Nothing (more) in the audit log."
    }
    fn stamps_usage(&self) -> &'static str {
        "Usage: /stamps <code>N REWARD</code> runs a stamp card of N stamps (2 to 50), e.g. \
         <code>/stamps 10 a free coffee</code>; <code>/stamps off</code> ends it (customers keep their stamps). \
         Give a stamp per visit with /stamp <code>CODE</code> or the button under a scanned card."
    }
    fn stamp_card_set(&self, needed: u32, reward: Esc) -> String {
        format!("🎟 Your stamp card runs: {needed} stamps give <b>{reward}</b>. Stamp with /stamp <code>CODE</code>.")
    }
    fn stamp_card_ended(&self) -> &'static str {
        "Your stamp card has ended. Customers keep their stamps if you run it again."
    }
    fn stamp_usage(&self) -> &'static str {
        "Usage: /stamp <code>CODE</code>, e.g. <code>/stamp ABCD2345</code>"
    }
    fn stamp_button(&self) -> &'static str {
        "🎟 Stamp"
    }
    fn stamped(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!("🎟 Stamp for {name}: {dots} {stamps}/{needed}")
    }
    fn stamp_filled(&self, name: Esc, reward: Esc) -> String {
        format!("🎉 {name}'s card is full: give <b>{reward}</b>. A new card starts.")
    }
    fn customer_stamped(&self, partner: Esc, dots: &str, stamps: u32, needed: u32, reward: Esc) -> String {
        format!("🎟 A stamp at {partner}: {dots} {stamps}/{needed} — a full card gives <b>{reward}</b>.")
    }
    fn customer_stamp_filled(&self, partner: Esc, reward: Esc) -> String {
        format!("🎉 Your card at {partner} is full: enjoy <b>{reward}</b>! A new card starts.")
    }
    fn stamp_cards_title(&self) -> &'static str {
        "🎟 <b>Your stamp cards</b>"
    }
    fn stamp_cards_none(&self) -> &'static str {
        "No partner runs a stamp card yet."
    }
    fn stamp_card_line(
        &self,
        partner: Esc,
        dots: &str,
        stamps: u32,
        needed: u32,
        reward: Esc,
        completed: u32,
    ) -> String {
        let filled = if completed > 0 { format!(" (filled {completed}×)") } else { String::new() };
        format!("<b>{partner}</b>: {dots} {stamps}/{needed} → {reward}{filled}")
    }
    fn audit_usage(&self) -> &'static str {
        "Usage: /audit, or /audit <code>ID</code> for the records before record ID."
    }
    fn cashier_greeting(&self, partner: Esc) -> String {
        format!(
            "👋 You are a cashier at <b>{partner}</b>.\n\n\
             Scan the customer's QR card, or send their code, to open it.\n\
             /credit <code>CODE PURCHASE</code> — credit points for a purchase\n\
             /redeem <code>CODE POINTS PURCHASE</code> — ask the customer to pay with points\n\
             /stamp <code>CODE</code> — a stamp for a visit; /voucher <code>CODE</code> — accept a voucher\n\
             /app — the program's app\n\
             /help — this list"
        )
    }
    fn staff_title(&self) -> &'static str {
        "🧾 <b>Your staff</b>"
    }
    fn staff_none(&self) -> &'static str {
        "No cashiers yet."
    }
    fn staff_usage(&self) -> &'static str {
        "/staff invite — a one-time link for a new cashier (valid 48 h); /staff revoke <code>ID</code> — take access away at once. \
         Cashiers credit, take payments in points, stamp and accept vouchers; they do not see your figures or keys."
    }
    fn staff_line(&self, id: i64, name: Esc, status: StaffStatus) -> String {
        match status {
            StaffStatus::Active => format!("#{id} {name} — cashier"),
            StaffStatus::Invited => format!("#{id} — invitation not used yet"),
            StaffStatus::Expired => format!("#{id} — invitation expired"),
            StaffStatus::Revoked => format!("#{id} {name} — revoked"),
        }
    }
    fn staff_revoke_button(&self, id: i64, name: &str) -> String {
        format!("✖ Revoke #{id} {name}")
    }
    fn staff_invited(&self, id: i64, link: &str, hours: i64) -> String {
        format!("🧾 Invitation #{id}: pass this on to your cashier (it works once, for {hours} h):\n{link}")
    }
    fn staff_joined(&self, partner: Esc) -> String {
        format!("✅ You are now a cashier at <b>{partner}</b>.")
    }
    fn staff_joined_owner(&self, id: i64, name: Esc) -> String {
        format!("🧾 {name} joined as cashier #{id}. /staff lists your staff.")
    }
    fn staff_revoked(&self, id: i64, name: Esc) -> String {
        format!("✖ {} revoked: no more access.", super::numbered(id, name))
    }
    fn staff_revoked_cashier(&self, partner: Esc) -> String {
        format!("You are no longer a cashier at {partner}.")
    }
    fn webhooks_title(&self) -> &'static str {
        "🔗 <b>Webhook endpoints</b>"
    }
    fn webhooks_none(&self) -> &'static str {
        "No webhook endpoints yet."
    }
    fn webhooks_usage(&self, events: &str) -> String {
        format!(
            "/webhook_add <code>URL EVENTS</code> — register an <code>https://</code> endpoint for events \
             (names separated by commas or spaces, or <code>all</code>), e.g. \
             <code>/webhook_add https://example.com/loyalty points.credited,points.redeemed</code>\n\
             /webhook_remove <code>ID</code> — remove one\n\
             Events: {events}\n\
             Each delivery is a signed POST (header <code>Loyalty-Signature</code>), retried for a day until it is answered with 2xx."
        )
    }
    fn webhook_line(&self, id: i64, url: Esc, events: &str, attempt: Option<&str>, success: Option<&str>) -> String {
        format!(
            "#{id} <code>{url}</code>\n   Events: {events}\n   Last attempt: {}\n   Last success: {}",
            attempt.unwrap_or("never"),
            success.map_or_else(|| "never".to_string(), |at| format!("{at} UTC"))
        )
    }
    fn webhook_no_answer(&self) -> &'static str {
        "no answer"
    }
    fn webhook_added(&self, id: i64, url: Esc, events: &str, secret: &str) -> String {
        format!(
            "✅ Webhook endpoint #{id} added: <code>{url}</code>\nEvents: {events}\n\n\
             🔑 Signing secret: <code>{secret}</code>\n\
             It is shown only this once — keep it safe and give it only to your receiver, which checks each \
             delivery's <code>Loyalty-Signature</code> with it. Lost it? Remove the endpoint and add it again."
        )
    }
    fn webhook_removed(&self, id: i64, url: Esc) -> String {
        format!("🗑 Webhook endpoint #{id} (<code>{url}</code>) removed: it receives nothing more.")
    }
    fn audit_by(&self, admin: Option<TelegramUserId>) -> String {
        match admin {
            Some(id) => format!("admin {id}"),
            None => "the customer".into(),
        }
    }
    fn audit_action(&self, action: &AuditAction) -> String {
        match action {
            AuditAction::Adjusted { customer, amount, reason, .. } => {
                format!("adjusted customer #{customer} by {}: {}", Signed(*amount), Esc(reason))
            }
            AuditAction::Blocked { customer, blocked: true } => format!("blocked customer #{customer}"),
            AuditAction::Blocked { customer, .. } => format!("unblocked customer #{customer}"),
            AuditAction::PartnerDecided { partner, status, .. } => {
                format!("partner #{partner} {}", self.status(*status))
            }
            AuditAction::Erased { customer } => format!("erased customer #{customer}"),
        }
    }
    fn audit_more(&self, before: i64) -> String {
        format!("Older: /audit {before}")
    }
    fn reward_usage(&self) -> &'static str {
        "Publish a reward customers can claim with points:\n\
         <code>/reward PRICE [stock=N] [category=NAME] [from=YYYY-MM-DD] [until=YYYY-MM-DD] [photo=https://…]\n\
         Title | description\n\
         ru: Название | описание\n\
         vi: Tên | mô tả</code>\n\
         The first title is shown in languages without their own line. E.g.\n\
         <code>/reward 500 stock=20 category=drinks\nFree coffee | Any size</code>\n\
         /rewards — your rewards; /reward_withdraw <code>ID</code> — take one off; \
         /voucher <code>CODE</code> — accept a customer's voucher"
    }
    fn reward_published(&self, pending: bool) -> &'static str {
        if pending {
            "✅ Reward published. The administrators will review it; customers will see it once approved."
        } else {
            "✅ Reward published: customers can claim it now."
        }
    }
    fn rewards_none_listed(&self) -> &'static str {
        "No rewards here."
    }
    fn voucher_usage(&self) -> &'static str {
        "Usage: /voucher <code>CODE</code> with the code the customer shows, e.g. <code>/voucher ABCDE-FGH23</code>"
    }
    fn voucher_accepted(&self, title: Esc, customer: Esc) -> String {
        format!("✅ Voucher accepted: hand <b>{title}</b> to {customer}. It is paid with points already.")
    }
    fn voucher_used_before(&self, title: Esc, when: &str) -> String {
        format!("⚠️ This voucher for <b>{title}</b> was already used ({when} UTC). Do not hand the reward over again.")
    }
    fn reward_proposed(&self, line: &str, id: RewardId) -> String {
        format!("🆕 A partner proposes a reward:\n{line}\n\n/reward_approve {id} · /reward_reject {id}")
    }
    fn reward_decided(&self, title: Esc, approved: bool) -> String {
        if approved {
            format!("✅ Your reward <b>{title}</b> is approved: customers can claim it now.")
        } else {
            format!("✖️ Your reward <b>{title}</b> was not approved.")
        }
    }
    fn campaign_offer(&self, kind: CampaignKind, times: &str, points: Pts, n: u32, window_days: u32) -> String {
        match kind {
            CampaignKind::Multiplier => format!("×{times} points"),
            CampaignKind::FirstPurchase => format!("+{points} on a first purchase"),
            CampaignKind::Birthday => format!("+{points} on a purchase within {window_days} days from a birthday"),
            CampaignKind::NthVisit => format!("+{points} on every visit number {n}"),
        }
    }
    fn campaign_line(
        &self,
        id: CampaignId,
        title: Esc,
        status: &str,
        offer: &str,
        when: &str,
        issued: Pts,
        budget: Pts,
    ) -> String {
        format!("<b>#{id} {title}</b> — {status}\n{offer}; {when}\nPaid {issued} of {budget} points.")
    }
    fn campaign_created(&self, pending: bool) -> &'static str {
        if pending { "✅ Campaign sent to the program's admins for approval." } else { "✅ Campaign created." }
    }
    fn campaigns_none(&self) -> &'static str {
        "No campaigns yet. /campaign shows how to start one."
    }
    fn campaign_usage(&self, example: &str) -> String {
        format!(
            "Send /campaign with a document like this one (kinds: multiplier, first_purchase, birthday, nth_visit):\n<pre>{example}</pre>\n/campaigns lists them; /campaign_end ID stops one."
        )
    }
    fn campaign_proposed(&self, partner: PartnerId, line: &str, id: CampaignId) -> String {
        format!("📣 Partner #{partner} proposes a campaign:\n{line}\n\n/campaign_approve {id} · /campaign_reject {id}")
    }
    fn birthday_set(&self, day: u8, month: u8) -> String {
        format!("🎂 Your birthday is saved: {day:02}.{month:02}. Birthday bonuses will find you.")
    }
    fn birthday_usage(&self) -> &'static str {
        "Send your birthday as /birthday DD.MM, for example /birthday 17.05. It can be set only once."
    }
    fn tier_progress_spend(&self, needed: Pts, next: Esc) -> String {
        format!("Spend {needed} more to reach <b>{next}</b>.")
    }
    fn tier_progress(&self, needed: Pts, next: Esc) -> String {
        format!("{needed} more qualifying points to <b>{next}</b>.")
    }
    fn redemption_expired(&self, id: RedemptionId, points: Pts, purchase: Pts) -> String {
        format!(
            "⌛ Request #{id} ({points} points for a purchase of {purchase}) expired: the customer did not confirm \
             in time. No points were debited."
        )
    }
    // --------------------------------------------------------- admin bot
    fn status(&self, status: PartnerStatus) -> &'static str {
        match status {
            PartnerStatus::Applied => "waiting",
            PartnerStatus::Approved => "approved",
            PartnerStatus::Rejected => "rejected",
            PartnerStatus::Suspended => "suspended",
        }
    }
    fn application(&self, id: PartnerId, name: Esc, category: Esc, who: &str, language: &str) -> String {
        format!(
            "📝 <b>Partner application #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nLanguage: {language}"
        )
    }
    fn more_pending(&self, more: usize) -> String {
        format!("…and {more} more. Decide on these first, then send /pending again.")
    }
    fn verdict(&self, status: PartnerStatus, by: Esc) -> String {
        match status {
            PartnerStatus::Approved => format!("✅ Approved by {by}"),
            PartnerStatus::Rejected => format!("✖️ Rejected by {by}"),
            s => format!("Now {} ({by})", self.status(s)),
        }
    }
    fn decision_result(&self, p: &Partner, changed: bool) -> String {
        let (id, name, status) = (p.id, Esc(&p.name), self.status(p.status));
        if changed {
            format!("Partner #{id} {name}: {status}.")
        } else {
            format!("Partner #{id} {name} is already {status}.")
        }
    }
    fn decision_toast(&self, p: &Partner, changed: bool) -> String {
        let (id, status) = (p.id, self.status(p.status));
        if changed { format!("Partner #{id}: {status}.") } else { format!("Partner #{id} is already {status}.") }
    }
    fn partner_terms(&self, earn: &str, share: &str, limit: Pts) -> String {
        format!("earn {earn}, pay ≤ {share}, ≤ {limit} points/day")
    }
    fn partners_count(&self, count: usize) -> String {
        format!("<b>Partners: {count}</b>")
    }
    fn rules_version(&self, version: u32, since: Option<&str>, json: Esc) -> String {
        let since = since.map_or_else(|| "the defaults".to_owned(), |at| format!("since {at} UTC"));
        format!(
            "📜 <b>Program rules, version {version}</b> ({since})\n<pre>{json}</pre>\n\
             To change them, send <code>/rules</code> followed by the new JSON document."
        )
    }
    fn rules_set(&self, version: u32) -> String {
        format!("✅ Rules version {version} is in force: points earned from now on follow it.")
    }
    fn usage_partner_id(&self, command: &str) -> String {
        format!("Usage: /{command} <code>ID</code> with the partner number from /partners.")
    }
    fn partner_approved(&self, name: Esc) -> String {
        format!(
            "🎉 <b>{name}</b> is now a partner of the program!\n\
             Scan a customer's QR card (or send their code) to credit a purchase or take points as payment.\n\
             /credit <code>CODE PURCHASE</code> — credit points\n\
             /redeem <code>CODE POINTS PURCHASE</code> — pay with points\n\
             /stats — your figures · /apikey — a key for your POS"
        )
    }
    fn partner_rejected(&self, name: Esc) -> String {
        format!("Sorry, the application for <b>{name}</b> was declined. You may apply again with /apply.")
    }
    fn partner_suspended(&self, name: Esc) -> String {
        format!("⛔ The partner account of <b>{name}</b> has been suspended. Please contact the administrators.")
    }
    fn not_a_code(&self, input: Esc) -> String {
        format!("«{input}» is not a customer code (8 letters and digits).")
    }
    fn adjusted(&self, amount: Signed, name: Esc, code: &str, balance: Pts, entry: EntryId) -> String {
        format!("✅ {amount} points to {name} (<code>{code}</code>). New balance: <b>{balance}</b>. Entry #{entry}.")
    }
    fn customer_adjusted(&self, amount: Signed, reason: Esc, balance: Pts) -> String {
        format!("ℹ️ Your balance was adjusted: <b>{amount}</b> points.\nReason: {reason}\nBalance: <b>{balance}</b>.")
    }
    fn usage_block(&self, command: &str) -> String {
        format!("Usage: /{command} <code>CODE</code>")
    }
    fn customer_blocked(&self, name: Esc, code: &str, blocked: bool) -> String {
        if blocked {
            format!("⛔ {name} (<code>{code}</code>) is blocked: no earning, no paying.")
        } else {
            format!("✅ {name} (<code>{code}</code>) is unblocked.")
        }
    }
    fn broadcast_too_long(&self, max: usize) -> String {
        format!("The text is too long: at most {max} characters.")
    }
    fn audience(&self, audience: Audience) -> &'static str {
        match audience {
            Audience::Customers => "customers",
            Audience::Partners => "partners",
        }
    }
    fn broadcast_queued(&self, id: BroadcastId, total: u32, to: &str) -> String {
        format!("📣 Broadcast #{id} queued to {total} {to}. Progress will be reported here.")
    }
    fn broadcast_progress(&self, job: &BroadcastJob) -> String {
        format!("📣 Broadcast #{}: sent {}, failed {} of {}…", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_done(&self, job: &BroadcastJob) -> String {
        format!("✅ Broadcast #{} done: sent {}, failed {} of {}.", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_paused(&self, id: BroadcastId) -> String {
        format!("⚠️ Broadcast #{id} paused after a storage error; it will resume where it stopped.")
    }
    fn webhook_alert(&self, bot: &str, pending: u64, error: Option<&str>) -> String {
        let error =
            error.map(|e| format!("\nLast delivery error: <code>{}</code>", escape_html(e))).unwrap_or_default();
        format!("🚨 The <b>{bot}</b> bot's webhook is falling behind: <b>{pending}</b> updates waiting.{error}")
    }
    fn webhook_cleared(&self, bot: &str, pending: u64) -> String {
        format!("✅ The <b>{bot}</b> bot's webhook is healthy again ({pending} updates waiting).")
    }
    fn program_stats(&self, s: &ProgramStats) -> String {
        let (c, pa, pp, out) = (s.customers, s.partners_approved, s.partners_pending, Pts(s.points_outstanding));
        let (e30, e90) = (Pts(s.expiring_30_days), Pts(s.expiring_90_days));
        let (tc, tp, ti, tr) = (s.today.customers, s.today.purchases, Pts(s.today.issued), Pts(s.today.redeemed));
        format!(
            "📊 <b>Program</b>\nCustomers: <b>{c}</b>\nPartners: <b>{pa}</b> approved, <b>{pp}</b> waiting\n\
             Points outstanding: <b>{out}</b>\nExpiring within 30 days: {e30} · within 90 days: {e90}\n\n<b>Today</b>\nCustomers: {tc} · purchases: {tp}\n\
             Points issued: {ti} · redeemed: {tr}"
        )
    }
    // -------------------------------------------------------- API errors
    fn api(&self, m: &ApiText) -> String {
        use ApiText::*;
        match m {
            NotConfigured(setting) => format!("{setting} is not configured on this server."),
            ClientBotNotConfigured => "The client bot is not configured on this server.".into(),
            AlertBotNotConfigured => "The Sentry alert bot is not configured on this server.".into(),
            UnsupportedMediaType => "The body must be JSON (Content-Type: application/json).".into(),
            PayloadTooLarge => "The request body is larger than 1 MiB.".into(),
            MethodNotAllowed(methods) => format!("Use {} for this route.", methods.join(" or ")),
            NotFound => "No such route.".into(),
            MissingAuth => "Send Authorization: tma <initData>.".into(),
            InvalidInitData(why) => format!("Invalid Mini App data: {why}."),
            InitDataWithoutUser => "Invalid Mini App data: no user.".into(),
            WrongBot { signer, wanted } => format!(
                "This Mini App data comes from the {} bot; this route takes the {} bot's: open the app from that bot.",
                signer.as_str(),
                wanted.as_str()
            ),
            ApiKeyRequired => {
                "This route takes the partner's API key (Authorization: Bearer <key>), not Mini App data.".into()
            }
            NotRegistered => "You are not registered yet: start the bot first.".into(),
            NotAdmin => "Only the program's admins may see this (the admin chat's members).".into(),
            MalformedQuery => "The query string is malformed.".into(),
            InvalidLimit => "limit must be a whole number from 1 to 100.".into(),
            InvalidBefore => "before must be an entry id (a positive whole number).".into(),
            InvalidParameter(name, range) => format!("Invalid query parameter {name}: {range}."),
            InvalidLanguage => "The language must be \"ru\", \"en\" or \"vi\".".into(),
            PartnerBotUnknown => "The partner bot's username is unknown; retry later.".into(),
            CardFailed => "Could not draw the card.".into(),
            InvalidApiKey => "Send Authorization: Bearer <API key> with a valid key.".into(),
            RateLimited(limit) => format!(
                "Too many requests with this key: at most {limit} a minute. Retry after the time in Retry-After."
            ),
            InvalidAdminToken => "Send Authorization: Bearer <ADMIN_API_TOKEN> with the server's admin token.".into(),
            InvalidIdempotencyKey => {
                "Send an Idempotency-Key header of 1 to 128 characters: letters, digits, _ - : and .".into()
            }
            InvalidBody(why) => format!("Invalid JSON body: {why}."),
            InvalidCustomerCode => {
                "customer_code must be the 8-character code of a card, or the code the app shows.".into()
            }
            CardCodeExpired => "The card's code has expired: ask the customer to show the card again.".into(),
            InvalidSignature => "Sentry-Hook-Signature is missing or wrong.".into(),
            BodyNotJson => "The body is not valid JSON.".into(),
            Unavailable => "Temporarily unavailable; retry later.".into(),
            Internal => "Internal error; the team has been notified.".into(),
            CorsForbidden => "This origin may not call the API.".into(),
            Rejected(r) => self.rejection(r),
        }
    }
}
