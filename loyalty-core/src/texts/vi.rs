use super::*;

/// The Vietnamese texts.
pub(super) struct Vi;

impl Texts for Vi {
    // ------------------------------------------------------------ common
    fn fixed(&self, m: Fixed) -> &'static str {
        use Fixed::*;
        match m {
            // common
            InternalError => "Đã xảy ra lỗi từ phía chúng tôi. Đội ngũ đã được thông báo, vui lòng thử lại sau.",
            LanguageName => "🇻🇳 Tiếng Việt",
            EnglishName => "Vietnamese",
            // client bot
            Blocked => "⛔ Tài khoản của bạn đã bị khóa: không thể tích hoặc dùng điểm. Vui lòng liên hệ hỗ trợ.",
            NeedStart => "Để bắt đầu, hãy gửi /start.",
            HelpTitle => "Tôi có thể giúp bạn:",
            HelpCommands => {
                "Lệnh: /balance /history /card /partners /rewards /vouchers /invite /ask /language /app /birthday /stamps /mydata /erase /menu"
            }
            Unknown => "🤔 Xin lỗi, tôi chưa hiểu. Hãy dùng các nút trong menu.",
            BalanceRecent => "Giao dịch gần đây:",
            NoHistory => "📜 Chưa có giao dịch nào.",
            HistoryTitle => "📜 Giao dịch gần đây:",
            NoPartnersYet => "🏪 Chưa có đối tác nào — sắp có!",
            CameFromPartner => "📍 Bạn đến từ đối tác này — hãy xuất trình thẻ của bạn tại đó:",
            PartnersTitle => "🏪 Nơi tích và dùng điểm:",
            AskPrompt => "Hãy đặt câu hỏi về chương trình — trả lời tin nhắn này.",
            AskPlaceholder => "Câu hỏi của bạn",
            AssistantUnavailable => "💬 Trợ lý hiện không khả dụng. Hãy xem “🏪 Đối tác” hoặc hỏi tại quầy thu ngân.",
            Thinking => "🤔 Đang suy nghĩ…",
            AssistantFailed => "😔 Xin lỗi, hiện tôi chưa thể trả lời. Vui lòng thử lại sau.",
            ProgramFallback => "chương trình khách hàng thân thiết",
            LanguageChoose => "🌐 Chọn ngôn ngữ:",
            LanguageSet => "✅ Ngôn ngữ: Tiếng Việt.",
            AppOpen => "📱 Mở ứng dụng của chương trình:",
            AppUnavailable => "📱 Ứng dụng chưa khả dụng — bạn có thể làm mọi thứ ngay trong cuộc trò chuyện này.",
            AdminAppInGroup => {
                "📱 Trong nhóm, Telegram không mở ứng dụng từ nút bấm: hãy mở số liệu của chương trình từ hồ sơ của bot này (Mini App chính của bot)."
            }
            CardCodeExpired => "⌛ Mã thẻ này đã hết hạn: hãy nhờ khách hàng mở lại thẻ trong ứng dụng.",
            RedemptionConfirmedToast => "✅ Đã xác nhận thanh toán",
            RedemptionDeclinedToast => "Đã từ chối yêu cầu",
            AlreadyConfirmed => "Đã xác nhận rồi",
            AlreadyDeclined => "Đã từ chối rồi",
            StaleButton => "Nút này không còn hiệu lực.",
            // partner bot
            ApplyPrompt => {
                "<b>Trở thành đối tác của chương trình khách hàng thân thiết.</b>\nKhách hàng của bạn tích điểm khi mua \
                 hàng và dùng điểm để thanh toán tại cửa hàng; bạn cộng và trừ điểm ngay tại đây.\n\nĐể đăng ký, hãy \
                 <b>trả lời tin nhắn này</b> với tên cửa hàng và loại hình, cách nhau bằng dấu chấm phẩy, ví dụ:\n\
                 <code>Phở 24; quán ăn</code>"
            }
            ApplyPlaceholder => "Tên cửa hàng; loại hình",
            ApplicationFormatError => {
                "Hãy gửi tên cửa hàng (tối đa 100 ký tự) và loại hình (tối đa 50 ký tự) trên một dòng, cách nhau \
                 bằng dấu chấm phẩy, ví dụ: <code>Phở 24; quán ăn</code>. Hãy trả lời tin nhắn này."
            }
            ApplicationRejected => "Đơn đăng ký của bạn đã bị từ chối. Bạn có thể đăng ký lại bằng lệnh /apply.",
            ApplicationWaiting => "⏳ Đơn đăng ký của bạn đang chờ duyệt. Chúng tôi sẽ nhắn tại đây.",
            Suspended => "⛔ Tài khoản đối tác của bạn đã bị tạm ngưng. Vui lòng liên hệ quản trị viên chương trình.",
            NotAPartner => "Bạn chưa là đối tác của chương trình. Gửi /start để đăng ký.",
            OwnerOnly => {
                "Chỉ chủ đối tác mới làm được việc này; thu ngân cộng điểm, nhận thanh toán bằng điểm, đóng tem và nhận voucher. Chưa là đối tác? Gửi /start để đăng ký."
            }
            PartnerHelp => {
                "<b>Các lệnh</b>\n\
                 Quét thẻ QR của khách hoặc gửi mã của khách để mở thẻ.\n\
                 /credit <code>MÃ SỐ_TIỀN</code> — cộng điểm cho giao dịch\n\
                 /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code> — đề nghị khách thanh toán bằng điểm\n\
                 /reverse <code>ID</code> — hủy giao dịch (trong vòng 24 giờ)\n\
                 /stats — số liệu hôm nay và 7 ngày\n\
                 /apikey — khóa cho hệ thống bán hàng (POS) (khóa mới thay khóa cũ); /apikey revoke — thu hồi\n\
                 /campaign — chiến dịch tại cửa hàng của bạn; /campaigns — của bạn\n\
                 /reward — đăng phần thưởng đổi điểm; /rewards — của bạn; /voucher <code>MÃ</code> — nhận phiếu\n\
                 /stamps <code>N PHẦN_THƯỞNG</code> — chạy thẻ tem; /stamp <code>MÃ</code> — đóng tem cho một lần ghé\n\
                 /staff — thu ngân của bạn: mời và thu hồi\n\
                 /webhooks — địa chỉ nhận sự kiện có chữ ký của bạn; /webhook_add <code>URL SỰ_KIỆN</code>, /webhook_remove <code>ID</code>\n\
                 /app — ứng dụng của chương trình\n\
                 /help — danh sách này"
            }
            CustomerCardBlocked => "⛔ Tài khoản này đã bị khóa: không thể cộng hoặc trừ điểm.",
            ButtonCredit => "➕ Cộng điểm",
            ButtonRedeem => "🎁 Trả bằng điểm",
            CreditPrompt => "số tiền mua hàng? Trả lời bằng một số, ví dụ 1500.",
            AmountPlaceholder => "Số tiền mua hàng",
            RedeemPrompt => "số điểm cần trừ và số tiền mua hàng? Trả lời bằng hai số, ví dụ 100 5000.",
            RedeemPlaceholder => "Điểm Số_tiền",
            BadAmount => "Số tiền phải là số nguyên dương, ví dụ 1500 hoặc 1 500.",
            UsageCredit => "Cách dùng: /credit <code>MÃ SỐ_TIỀN</code>, ví dụ <code>/credit ABCD2345 1500</code>",
            UsageRedeem => {
                "Cách dùng: /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code>, ví dụ <code>/redeem ABCD2345 100 5000</code>"
            }
            UsageReverse => {
                "Cách dùng: /reverse <code>ID</code> với số giao dịch trong tin xác nhận, ví dụ <code>/reverse 42</code>"
            }
            ButtonConfirm => "✅ Xác nhận",
            ButtonDecline => "✖️ Từ chối",
            // admin bot
            Refusal => "Bot này chỉ dành cho quản trị viên của chương trình.",
            AdminHelp => {
                "<b>Lệnh quản trị</b>\n\
                 /pending — các đơn đang chờ, với nút Duyệt / Từ chối\n\
                 /partners — tất cả đối tác cùng trạng thái và điều khoản\n\
                 /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — quyết định về đối tác\n\
                 /adjust <code>MÃ ±ĐIỂM LÝ_DO</code> — điều chỉnh số dư của khách\n\
                 /block <code>MÃ</code>, /unblock <code>MÃ</code> — khóa hoặc mở khóa khách hàng\n\
                 /broadcast <code>customers|partners NỘI_DUNG</code> — gửi tin cho tất cả\n\
                 /stats — số liệu chương trình\n\
                 /rules — quy tắc chương trình; <code>/rules JSON</code> đặt phiên bản mới\n\
                 /campaign <code>JSON</code> — chiến dịch; /campaigns — tất cả, kèm số đã trả so với ngân sách\n\
                 /campaign_approve <code>ID</code>, /campaign_reject <code>ID</code>, /campaign_end <code>ID</code> — duyệt hoặc dừng\n\
                 /rewards — phần thưởng chờ duyệt; /reward_approve <code>ID</code>, /reward_reject <code>ID</code>, /reward_withdraw <code>ID</code>\n\
                 /audit — nhật ký kiểm tra: điều chỉnh, khoá, quyết định về đối tác, xoá dữ liệu\n\
                 /erase <code>MÃ</code> — xoá dữ liệu cá nhân của khách hàng theo yêu cầu của họ\n\
                 /webhooks — địa chỉ nhận sự kiện có chữ ký của chương trình; /webhook_add <code>URL SỰ_KIỆN</code>, /webhook_remove <code>ID</code>\n\
                 /help — danh sách này"
            }
            ButtonApprove => "✅ Duyệt",
            ButtonReject => "✖️ Từ chối",
            NoPending => "Không có đơn nào đang chờ.",
            NoPartners => "Chưa có đối tác nào.",
            UsageAdjust => {
                "Cách dùng: /adjust <code>MÃ ±ĐIỂM LÝ_DO</code>, ví dụ <code>/adjust ABCD2345 -50 giao dịch trùng</code>"
            }
            ReasonRequired => "Cần ghi lý do (tối đa 200 ký tự); khách hàng sẽ thấy lý do này.",
            UsageBroadcast => {
                "Cách dùng: /broadcast <code>customers NỘI_DUNG</code> hoặc /broadcast \
                 <code>partners NỘI_DUNG</code>. Nội dung được gửi nguyên văn."
            }
        }
    }
    fn points(&self, n: Points) -> String {
        format!("{} điểm", Pts(n))
    }
    fn decimal_sep(&self) -> char {
        ','
    }
    fn entry_kind(&self, kind: EntryKind) -> &'static str {
        match kind {
            EntryKind::WelcomeBonus => "Thưởng chào mừng",
            EntryKind::ReferralBonus => "Thưởng giới thiệu",
            EntryKind::Accrual => "Mua hàng",
            EntryKind::Redemption => "Thanh toán bằng điểm",
            EntryKind::Reversal => "Hủy giao dịch",
            EntryKind::Adjustment => "Điều chỉnh",
            EntryKind::Import => "Số dư chuyển sang",
            EntryKind::Legacy => "Lịch sử trước đây",
            EntryKind::Expiry => "Điểm hết hạn",
        }
    }
    fn rejection(&self, r: &Rejection) -> String {
        use Rejection::*;
        match r {
            UnknownCustomer => "Không tìm thấy khách hàng với mã này. Hãy kiểm tra mã trên thẻ.".into(),
            UnknownPartner => "Đối tác này chưa đăng ký.".into(),
            UnknownEntry => "Không có giao dịch này của bạn.".into(),
            UnknownRedemption => "Yêu cầu này không còn tồn tại.".into(),
            CustomerBlocked => "Tài khoản này đã bị khóa. Vui lòng liên hệ hỗ trợ.".into(),
            PartnerNotApproved { .. } => "Tài khoản đối tác của bạn chưa được duyệt.".into(),
            InsufficientBalance { balance, requested } => {
                format!("Không đủ điểm: số dư {}, cần {}.", Pts(*balance), Pts(*requested))
            }
            ExceedsMaxShare { max } => format!("Chỉ có thể dùng tối đa {} điểm cho giao dịch này.", Pts(*max)),
            DailyLimitExceeded { remaining } => {
                format!("Đã đạt hạn mức cộng điểm trong ngày: còn {} điểm hôm nay.", Pts(*remaining))
            }
            InvalidAmount => "Số tiền phải là số nguyên dương.".into(),
            AlreadyReversed => "Giao dịch này đã được hủy.".into(),
            NotReversible => "Chỉ có thể hủy giao dịch mua hàng hoặc thanh toán bằng điểm.".into(),
            ReversalWindowClosed => "Chỉ có thể hủy giao dịch trong vòng 24 giờ.".into(),
            RedemptionExpired => "Yêu cầu đã hết hạn. Hãy nhờ thu ngân gửi yêu cầu mới.".into(),
            RedemptionClosed { .. } => "Yêu cầu này đã được trả lời.".into(),
            NotYourRedemption => "Yêu cầu này dành cho người khác.".into(),
            IdempotencyConflict => "Giao dịch này đã được gửi với thông tin khác.".into(),
            CodeTaken => "Vui lòng thử lại.".into(),
            InvalidTransition => "Trạng thái đối tác không cho phép thao tác này.".into(),
            AlreadyPartner => "Bạn đã đăng ký làm đối tác.".into(),
            InvalidImport => "Gói nhập dữ liệu không hợp lệ.".into(),
            InvalidRules { reason } => format!("Tài liệu quy tắc không hợp lệ: {reason}"),
            InvalidCampaign { reason } => format!("Chiến dịch không hợp lệ: {reason}"),
            UnknownCampaign => "Không có chiến dịch này.".into(),
            CampaignClosed { status } => {
                format!("Chiến dịch {} và không thể thay đổi như vậy.", self.campaign_status(*status))
            }
            PartnerCampaignsOff => "Chương trình không cho phép đối tác tổ chức chiến dịch.".into(),
            BirthdayAlreadySet { birthday } => {
                format!(
                    "Ngày sinh của bạn đã được đặt ({:02}.{:02}); chỉ có thể đặt một lần.",
                    birthday.day, birthday.month
                )
            }
            InvalidReward { reason } => format!("Phần thưởng không hợp lệ: {reason}"),
            InvalidStampCard { reason } => format!("Thẻ tem không hợp lệ: {reason}"),
            NoStampCard => "Đối tác này không có thẻ tem.".into(),
            UnknownReward => "Không có phần thưởng này.".into(),
            RewardUnavailable => "Hiện không thể nhận phần thưởng này.".into(),
            OutOfStock => "Phần thưởng này đã hết.".into(),
            RewardClosed { .. } => "Phần thưởng này đã được quyết định.".into(),
            UnknownVoucher => "Không có phiếu này ở đây. Hãy kiểm tra mã.".into(),
            VoucherClosed { status } => match status {
                VoucherStatus::Used => "Phiếu này đã được sử dụng.".into(),
                _ => "Phiếu này đã bị hủy.".into(),
            },
            InvalidInvite => "Liên kết mời này không hợp lệ: đã hết hạn, đã bị thu hồi hoặc đã được người khác dùng. Hãy xin đối tác liên kết mới.".into(),
            StaffLimit { max } => format!("Một đối tác có tối đa {max} thu ngân và lời mời đang mở. Hãy thu hồi bớt trước (/staff)."),
            AlreadyStaff => "Bạn đã là thu ngân. Hãy nhờ đối tác thu hồi bạn trước.".into(),
            UnknownStaff => "Không có thu ngân này của bạn.".into(),
            InvalidWebhook { reason } => format!("Địa chỉ webhook không hợp lệ: {reason}"),
            WebhookLimit { max } => format!("Tối đa {max} địa chỉ webhook; hãy xóa bớt một cái trước."),
            UnknownWebhook => "Không có địa chỉ webhook này.".into(),
        }
    }
    // -------------------------------------------------------- client bot
    fn button(&self, b: Button) -> &'static str {
        match b {
            Button::Balance => "💰 Số dư",
            Button::History => "📜 Lịch sử",
            Button::Card => "💳 Thẻ của tôi",
            Button::Partners => "🏪 Đối tác",
            Button::Rewards => "🛍 Phần thưởng",
            Button::Invite => "🎁 Mời bạn bè",
            Button::Ask => "💬 Đặt câu hỏi",
            Button::Language => "🌐 Ngôn ngữ",
            Button::App => "📱 Mở ứng dụng",
        }
    }
    fn welcome(&self, name: Esc, bonus_line: &str, balance: Points) -> String {
        format!(
            "👋 Chào mừng {name}!\nBạn đã tham gia chương trình khách hàng thân thiết: tích điểm tại các đối tác và dùng điểm để thanh toán.{bonus_line}\nSố dư của bạn: <b>{}</b>.\n\nNhấn “💳 Thẻ của tôi” và đưa mã QR khi thanh toán.",
            self.points(balance)
        )
    }
    fn welcome_bonus(&self, bonus: Points) -> String {
        format!("\n🎁 Thưởng chào mừng: <b>{}</b>.", self.points(bonus))
    }
    fn welcome_back(&self, name: Esc, balance: Points) -> String {
        format!("👋 Chào mừng {name} quay lại! Số dư của bạn: <b>{}</b>.", self.points(balance))
    }
    fn referral_credited(&self, friend: Esc, bonus: Points, balance: Points) -> String {
        let (bonus, balance) = (self.points(bonus), self.points(balance));
        format!("🎉 {friend} đã tham gia qua liên kết của bạn! Bạn được cộng <b>{bonus}</b>. Số dư: <b>{balance}</b>.")
    }
    fn help_lines(&self) -> [&'static str; 8] {
        [
            "số dư điểm của bạn",
            "các giao dịch gần đây",
            "mã QR cho thu ngân",
            "nơi tích và dùng điểm",
            "đổi điểm lấy quà; /vouchers — phiếu của bạn",
            "liên kết mời bạn bè",
            "hỏi trợ lý",
            "đổi ngôn ngữ",
        ]
    }
    fn balance(&self, balance: Points) -> String {
        format!("💰 Số dư của bạn: <b>{}</b>", self.points(balance))
    }
    fn card_caption(&self, code: Esc) -> String {
        format!("💳 Thẻ của bạn. Đưa mã QR cho thu ngân hoặc đọc mã: <code>{code}</code>")
    }
    fn card_code_only(&self, code: Esc) -> String {
        format!("💳 Mã khách hàng của bạn: <code>{code}</code>\nHãy đọc mã này cho thu ngân.")
    }
    fn partner_offer(&self, name: Esc, category: Esc, earn: &str, share: &str) -> String {
        format!("• <b>{name}</b> ({category}): tích {earn} %, thanh toán bằng điểm tối đa {share} % hóa đơn")
    }
    fn partners_more(&self, more: usize) -> String {
        format!("…và {more} đối tác khác")
    }
    fn invite(&self, link: Esc, reward: &str) -> String {
        format!("🎁 Mời bạn bè bằng liên kết cá nhân của bạn.{reward}\n\n{link}")
    }
    fn invite_reward(&self, bonus: Points) -> String {
        format!(" Khi bạn bè tham gia, bạn nhận được <b>{}</b>.", self.points(bonus))
    }
    fn invite_code_only(&self, code: Esc, reward: &str) -> String {
        format!("🎁 Hãy nhờ bạn bè gửi cho bot này: <code>/start ref_{code}</code>.{reward}")
    }
    fn invite_code_reward(&self, bonus: Points) -> String {
        format!(" Bạn sẽ nhận được <b>{}</b>.", self.points(bonus))
    }
    fn question_too_long(&self, max: usize) -> String {
        format!("✂️ Câu hỏi quá dài. Vui lòng viết ngắn hơn {max} ký tự.")
    }
    fn quota_exhausted(&self, limit: u32) -> String {
        format!("⏳ Hôm nay bạn đã hỏi {limit} câu, đạt giới hạn trong ngày. Hãy quay lại vào ngày mai!")
    }
    fn redemption_confirmed(&self, partner: Esc, paid: Points, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!("✅ Bạn đã thanh toán <b>{paid}</b> tại {partner}.\nSố dư: <b>{balance}</b>.")
    }
    fn redemption_declined(&self, partner: Esc, requested: Points) -> String {
        let requested = self.points(requested);
        format!("❌ Bạn đã từ chối thanh toán <b>{requested}</b> tại {partner}. Không có điểm nào bị trừ.")
    }
    fn partner_confirmed(&self, code: Esc, paid: Points, request: i64, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!(
            "✅ Khách hàng <code>{code}</code> đã thanh toán <b>{paid}</b> cho yêu cầu #{request}. Số dư của khách: {balance}."
        )
    }
    fn partner_declined(&self, code: Esc, requested: Points, request: i64) -> String {
        let requested = self.points(requested);
        format!("❌ Khách hàng <code>{code}</code> đã từ chối thanh toán <b>{requested}</b> cho yêu cầu #{request}.")
    }
    // ------------------------------------------------------- partner bot
    fn application_received(&self, name: Esc, category: Esc) -> String {
        format!(
            "✅ Đã nhận đơn đăng ký: <b>{name}</b> ({category}).\nQuản trị viên sẽ sớm xem xét; \
             bạn sẽ nhận được tin nhắn tại đây."
        )
    }
    fn application_pending(&self, name: Esc) -> String {
        format!("⏳ Đơn đăng ký cho <b>{name}</b> đang chờ duyệt. Chúng tôi sẽ nhắn tại đây.")
    }
    fn partner_greeting(&self, name: Esc) -> String {
        format!("👋 <b>{name}</b>, bạn là đối tác của chương trình.")
    }
    fn customer_card(&self, name: Esc, code: &str, balance: Pts) -> String {
        format!("👤 <b>{name}</b>, thẻ <code>{code}</code>\nSố dư: <b>{balance}</b> điểm")
    }
    fn partner_bad_code(&self, input: Esc) -> String {
        format!("«{input}» không phải là mã khách hàng: mã gồm 8 chữ và số, ví dụ ABCD2345.")
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
            "✅ <b>{points}</b> điểm cho {name} (<code>{code}</code>) với giao dịch {purchase}.\n\
             Số dư của khách: {balance}. Giao dịch #{entry}{}",
            if undo { format!("; để hủy: /reverse {entry}") } else { ".".into() }
        )
    }
    fn credited_nothing(&self, code: &str, purchase: Pts) -> String {
        format!("Giao dịch {purchase} quá nhỏ để tích điểm; không cộng điểm cho {code}.")
    }
    fn customer_credited(&self, points: Signed, partner: Esc, balance: Pts) -> String {
        format!("🎉 <b>{points}</b> điểm tại {partner}. Số dư của bạn: <b>{balance}</b>.")
    }
    fn redemption_sent(&self, id: RedemptionId, name: Esc, code: &str, points: Pts, purchase: Pts) -> String {
        format!(
            "📨 Đã gửi yêu cầu #{id} tới {name} (<code>{code}</code>): trả <b>{points}</b> điểm cho giao dịch \
             {purchase}.\nĐang chờ khách xác nhận (10 phút); điểm chỉ bị trừ khi khách xác nhận."
        )
    }
    fn customer_redemption_request(&self, partner: Esc, points: Pts, purchase: Pts, balance: Pts) -> String {
        format!(
            "🎁 <b>{partner}</b> đề nghị trả <b>{points}</b> điểm cho giao dịch {purchase}.\n\
             Số dư của bạn: {balance}. Xác nhận trong vòng 10 phút?"
        )
    }
    fn reversed(&self, original: EntryId, amount: Signed, code: &str, balance: Pts) -> String {
        format!("↩️ Đã hủy giao dịch #{original}: {amount} điểm cho <code>{code}</code>. Số dư: {balance}.")
    }
    fn customer_reversed(&self, partner: Esc, amount: Signed, balance: Pts) -> String {
        format!("↩️ {partner} đã hủy một giao dịch: <b>{amount}</b> điểm. Số dư của bạn: <b>{balance}</b>.")
    }
    fn partner_stats_labels(&self) -> [&'static str; 5] {
        ["📊 <b>Hôm nay / 7 ngày</b>", "Khách hàng", "Giao dịch", "Điểm đã cộng", "Điểm đã dùng"]
    }
    fn api_key(&self, key: &str) -> String {
        format!(
            "🔑 Khóa API cho máy POS của bạn:\n<code>{key}</code>\n\nKhóa chỉ hiển thị một lần: hãy lưu lại và giữ \
             bí mật. Gửi dưới dạng <code>Authorization: Bearer …</code>. Lệnh /apikey mới sẽ thay thế khóa này."
        )
    }
    fn api_key_revoked(&self) -> &'static str {
        "🔒 Khóa POS của bạn đã bị thu hồi và không còn hiệu lực. /apikey tạo khóa mới."
    }
    fn points_expiring_soon(&self, points: Points, date: &str) -> String {
        format!("⏳ {} sẽ hết hạn trong 30 ngày tới, đợt đầu vào {date}.", self.points(points))
    }
    fn expiry_reminder(&self, points: Points, date: &str) -> String {
        format!(
            "⏳ Nhắc nhở: {} sẽ hết hạn vào {date}. Hãy dùng chúng tại các đối tác trước ngày đó!",
            self.points(points)
        )
    }
    fn points_expired(&self, points: Points, balance: Points) -> String {
        format!("⌛ {} chưa dùng đã hết hạn. Số dư của bạn: <b>{}</b>.", self.points(points), self.points(balance))
    }
    fn tier_changed(&self, up: bool, name: Option<Esc>) -> String {
        match (up, name) {
            (true, Some(n)) => format!("🏅 Chúc mừng! Hạng của bạn giờ là <b>{n}</b>."),
            (false, Some(n)) => format!("Hạng của bạn giờ là <b>{n}</b>."),
            (_, None) => "Hạng của bạn đã hết. Mua sắm mới sẽ giúp bạn lên hạng lại.".into(),
        }
    }
    fn earned_base(&self, base: Pts) -> String {
        format!("{base} cơ bản")
    }
    fn campaign_status(&self, status: CampaignStatus) -> &'static str {
        match status {
            CampaignStatus::Pending => "đang chờ duyệt",
            CampaignStatus::Active => "đang chạy",
            CampaignStatus::Rejected => "bị từ chối",
            CampaignStatus::Ended => "đã kết thúc",
        }
    }
    fn tier_status(&self, name: Esc, times: &str) -> String {
        format!("🏅 Hạng: <b>{name}</b> (điểm × {times})")
    }
    fn tiers_line(&self, counts: &str) -> String {
        format!("🏅 Khách hàng theo hạng: {counts}")
    }
    fn reward_status(&self, status: RewardStatus) -> &'static str {
        match status {
            RewardStatus::Pending => "chờ duyệt",
            RewardStatus::Active => "đang hiển thị",
            RewardStatus::Rejected => "bị từ chối",
            RewardStatus::Withdrawn => "đã gỡ",
        }
    }
    fn reward_head(&self, id: RewardId, title: Esc, partner: Esc, price: Pts) -> String {
        format!("🎁 <b>{title}</b> — {price} điểm\n🏪 {partner} · #{id}")
    }
    fn reward_left(&self, left: u32) -> String {
        format!("còn {left}")
    }
    fn rewards_title(&self, category: Option<Esc>) -> String {
        match category {
            Some(c) => format!("🛍 <b>Phần thưởng: {c}</b>"),
            None => "🛍 <b>Phần thưởng bạn có thể nhận</b>".into(),
        }
    }
    fn rewards_none(&self) -> &'static str {
        "Hiện chưa có phần thưởng nào để nhận. Hãy quay lại sau!"
    }
    fn rewards_more(&self) -> &'static str {
        "Thêm ▶"
    }
    fn rewards_first(&self) -> &'static str {
        "⏮ Về đầu"
    }
    fn rewards_at(&self, partner: &str) -> String {
        format!("🏪 Thêm tại {partner}")
    }
    fn reward_card(&self, line: &str, description: Esc) -> String {
        if description.0.is_empty() { line.to_owned() } else { format!("{line}\n\n{description}") }
    }
    fn reward_claim_button(&self, price: Pts) -> String {
        format!("🎁 Đổi {price} điểm")
    }
    fn voucher_issued(&self, title: Esc, partner: Esc, code: &str, balance: Points) -> String {
        format!(
            "🎟 Phiếu của bạn cho <b>{title}</b> tại {partner}:\n\n<code>{code}</code>\n\nHãy đưa mã này tại quầy; \
             mã chỉ dùng được một lần. Số dư: <b>{}</b>.",
            self.points(balance)
        )
    }
    fn voucher_again(&self, title: Esc, code: &str) -> String {
        format!("🎟 Bạn đã nhận <b>{title}</b> tại đây: phiếu của bạn là <code>{code}</code>.")
    }
    fn voucher_cancel_button(&self) -> &'static str {
        "✖️ Hủy và hoàn điểm"
    }
    fn voucher_cancelled(&self, title: Esc, points: Points, balance: Points) -> String {
        format!(
            "Phiếu cho <b>{title}</b> đã bị hủy: hoàn {}. Số dư: <b>{}</b>.",
            self.points(points),
            self.points(balance)
        )
    }
    fn vouchers_title(&self) -> &'static str {
        "🎟 <b>Phiếu của bạn</b> (đưa mã tại quầy)"
    }
    fn vouchers_none(&self) -> &'static str {
        "Bạn chưa có phiếu nào. Hãy nhận phần thưởng: /rewards."
    }
    fn voucher_used_notice(&self, title: Esc, partner: Esc) -> String {
        format!("✅ Phiếu của bạn cho <b>{title}</b> đã được dùng tại {partner}. Chúc bạn vui!")
    }
    fn mydata_caption(&self) -> &'static str {
        "📄 Dữ liệu của bạn trong chương trình: hồ sơ, ngày sinh, mọi giao dịch và phiếu quà (tem: /stamps). \
         /erase xoá dữ liệu cá nhân của bạn."
    }
    fn erase_confirm(&self, balance: Points) -> String {
        format!(
            "⚠️ <b>Xoá dữ liệu cá nhân của bạn?</b>\n\nTên, tên người dùng, tài khoản Telegram và ngày sinh sẽ bị xoá \
             khỏi chương trình; các giao dịch vẫn được giữ ẩn danh trong sổ sách của đối tác. {} của bạn sẽ mất và \
             thẻ ngừng hoạt động. Không thể hoàn tác; sau này /start sẽ tạo bạn thành khách hàng mới.",
            self.points(balance)
        )
    }
    fn erase_button(&self) -> &'static str {
        "🗑 Xoá dữ liệu của tôi"
    }
    fn erased(&self) -> &'static str {
        "Dữ liệu cá nhân của bạn đã được xoá. Tạm biệt! /start bất cứ lúc nào để trở thành khách hàng mới."
    }
    fn erase_expired(&self) -> &'static str {
        "Nút này đã hết hạn. Hãy gửi lại /erase nếu bạn vẫn muốn xoá dữ liệu."
    }
    fn stamp_given_before(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!("Tem này cho {name} đã được đóng trước đó ({dots} {stamps}/{needed}). Lần ghé mới, hãy quét lại thẻ.")
    }
    fn erase_usage(&self) -> &'static str {
        "Cách dùng: /erase <code>MÃ</code> hiển thị khách hàng; <code>/erase MÃ confirm</code> xoá dữ liệu cá nhân \
         của họ (theo yêu cầu của họ; không thể hoàn tác)."
    }
    fn erase_check(&self, name: Esc, code: &str, balance: Points) -> String {
        format!(
            "{name} (<code>{code}</code>), {}: gửi <code>/erase {code} confirm</code> để xoá dữ liệu cá nhân. \
             Điểm vẫn nằm trên bản ghi ẩn danh.",
            self.points(balance)
        )
    }
    fn customer_erased(&self, id: CustomerId, replayed: bool) -> String {
        if replayed {
            format!("Khách hàng #{id} đã bị xoá trước đó; không có gì thay đổi.")
        } else {
            format!("🗑 Đã xoá khách hàng #{id}: chỉ còn bản ghi ẩn danh và các giao dịch của nó.")
        }
    }
    fn audit_title(&self) -> &'static str {
        "<b>Nhật ký kiểm tra</b> (mới nhất trước, UTC)"
    }
    fn audit_none(&self) -> &'static str {
        "Nhật ký kiểm tra không còn gì."
    }
    fn stamps_usage(&self) -> &'static str {
        "Cách dùng: /stamps <code>N PHẦN_THƯỞNG</code> chạy thẻ tem N tem (từ 2 đến 50), ví dụ \
         <code>/stamps 10 một ly cà phê miễn phí</code>; <code>/stamps off</code> kết thúc thẻ (khách vẫn giữ tem). \
         Đóng tem mỗi lần ghé: /stamp <code>MÃ</code> hoặc nút dưới thẻ đã quét."
    }
    fn stamp_card_set(&self, needed: u32, reward: Esc) -> String {
        format!("🎟 Thẻ tem đang chạy: {needed} tem đổi <b>{reward}</b>. Đóng tem: /stamp <code>MÃ</code>.")
    }
    fn stamp_card_ended(&self) -> &'static str {
        "Thẻ tem đã kết thúc. Nếu bạn chạy lại, khách vẫn giữ tem của họ."
    }
    fn stamp_usage(&self) -> &'static str {
        "Cách dùng: /stamp <code>MÃ</code>, ví dụ <code>/stamp ABCD2345</code>"
    }
    fn stamp_button(&self) -> &'static str {
        "🎟 Đóng tem"
    }
    fn stamped(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!("🎟 Đã đóng tem cho {name}: {dots} {stamps}/{needed}")
    }
    fn stamp_filled(&self, name: Esc, reward: Esc) -> String {
        format!("🎉 Thẻ của {name} đã đầy: hãy tặng <b>{reward}</b>. Thẻ mới bắt đầu.")
    }
    fn customer_stamped(&self, partner: Esc, dots: &str, stamps: u32, needed: u32, reward: Esc) -> String {
        format!("🎟 Một tem tại {partner}: {dots} {stamps}/{needed} — thẻ đầy đổi <b>{reward}</b>.")
    }
    fn customer_stamp_filled(&self, partner: Esc, reward: Esc) -> String {
        format!("🎉 Thẻ của bạn tại {partner} đã đầy: mời bạn nhận <b>{reward}</b>! Thẻ mới bắt đầu.")
    }
    fn stamp_cards_title(&self) -> &'static str {
        "🎟 <b>Thẻ tem của bạn</b>"
    }
    fn stamp_cards_none(&self) -> &'static str {
        "Chưa có đối tác nào chạy thẻ tem."
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
        let filled = if completed > 0 { format!(" (đã đầy {completed}×)") } else { String::new() };
        format!("<b>{partner}</b>: {dots} {stamps}/{needed} → {reward}{filled}")
    }
    fn audit_usage(&self) -> &'static str {
        "Cách dùng: /audit, hoặc /audit <code>ID</code> để xem các bản ghi trước bản ghi ID."
    }
    fn cashier_greeting(&self, partner: Esc) -> String {
        format!(
            "👋 Bạn là thu ngân tại <b>{partner}</b>.\n\n\
             Quét thẻ QR của khách hoặc gửi mã của họ để mở thẻ.\n\
             /credit <code>MÃ SỐ_TIỀN</code> — cộng điểm cho một lần mua\n\
             /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code> — đề nghị khách thanh toán bằng điểm\n\
             /stamp <code>MÃ</code> — đóng tem cho một lần ghé; /voucher <code>MÃ</code> — nhận voucher\n\
             /app — ứng dụng của chương trình\n\
             /help — danh sách này"
        )
    }
    fn staff_title(&self) -> &'static str {
        "🧾 <b>Nhân viên của bạn</b>"
    }
    fn staff_none(&self) -> &'static str {
        "Chưa có thu ngân nào."
    }
    fn staff_usage(&self) -> &'static str {
        "/staff invite — liên kết dùng một lần cho thu ngân mới (hiệu lực 48 giờ); /staff revoke <code>ID</code> — thu hồi quyền ngay. \
         Thu ngân cộng điểm, nhận thanh toán bằng điểm, đóng tem và nhận voucher; họ không xem được số liệu hay khóa của bạn."
    }
    fn staff_line(&self, id: i64, name: Esc, status: StaffStatus) -> String {
        match status {
            StaffStatus::Active => format!("#{id} {name} — thu ngân"),
            StaffStatus::Invited => format!("#{id} — lời mời chưa được dùng"),
            StaffStatus::Expired => format!("#{id} — lời mời đã hết hạn"),
            StaffStatus::Revoked => format!("#{id} {name} — đã thu hồi"),
        }
    }
    fn staff_revoke_button(&self, id: i64, name: &str) -> String {
        format!("✖ Thu hồi #{id} {name}")
    }
    fn staff_invited(&self, id: i64, link: &str, hours: i64) -> String {
        format!("🧾 Lời mời #{id}: hãy chuyển cho thu ngân của bạn (dùng được một lần, trong {hours} giờ):\n{link}")
    }
    fn staff_joined(&self, partner: Esc) -> String {
        format!("✅ Giờ bạn là thu ngân tại <b>{partner}</b>.")
    }
    fn staff_joined_owner(&self, id: i64, name: Esc) -> String {
        format!("🧾 {name} đã trở thành thu ngân #{id}. /staff — danh sách nhân viên.")
    }
    fn staff_revoked(&self, id: i64, name: Esc) -> String {
        format!("✖ Đã thu hồi {}: không còn quyền truy cập.", super::numbered(id, name))
    }
    fn staff_revoked_cashier(&self, partner: Esc) -> String {
        format!("Bạn không còn là thu ngân tại {partner}.")
    }
    fn webhooks_title(&self) -> &'static str {
        "🔗 <b>Webhook</b>"
    }
    fn webhooks_none(&self) -> &'static str {
        "Chưa có webhook nào."
    }
    fn webhooks_usage(&self, events: &str) -> String {
        format!(
            "/webhook_add <code>URL SỰ_KIỆN</code> — đăng ký một địa chỉ <code>https://</code> nhận sự kiện \
             (tên cách nhau bằng dấu phẩy hoặc dấu cách, hoặc <code>all</code> cho tất cả), ví dụ: \
             <code>/webhook_add https://example.com/loyalty points.credited,points.redeemed</code>\n\
             /webhook_remove <code>ID</code> — gỡ một địa chỉ\n\
             Sự kiện: {events}\n\
             Mỗi sự kiện được gửi bằng một POST có chữ ký (header <code>Loyalty-Signature</code>) và được gửi lại \
             trong một ngày cho đến khi địa chỉ trả lời 2xx."
        )
    }
    fn webhook_line(&self, id: i64, url: Esc, events: &str, attempt: Option<&str>, success: Option<&str>) -> String {
        format!(
            "#{id} <code>{url}</code>\n   Sự kiện: {events}\n   Lần gửi gần nhất: {}\n   Lần thành công gần nhất: {}",
            attempt.unwrap_or("chưa có"),
            success.map_or_else(|| "chưa có".to_string(), |at| format!("{at} UTC"))
        )
    }
    fn webhook_no_answer(&self) -> &'static str {
        "không có phản hồi"
    }
    fn webhook_added(&self, id: i64, url: Esc, events: &str, secret: &str) -> String {
        format!(
            "✅ Đã thêm webhook #{id}: <code>{url}</code>\nSự kiện: {events}\n\n\
             🔑 Khoá ký: <code>{secret}</code>\n\
             Khoá chỉ hiển thị một lần này — hãy giữ kín và chỉ đưa cho hệ thống nhận của bạn, nơi dùng nó để \
             kiểm tra header <code>Loyalty-Signature</code> của mỗi lần gửi. Mất khoá? Hãy gỡ địa chỉ rồi thêm lại."
        )
    }
    fn webhook_removed(&self, id: i64, url: Esc) -> String {
        format!("🗑 Đã gỡ webhook #{id} (<code>{url}</code>): địa chỉ này sẽ không nhận gì nữa.")
    }
    fn audit_by(&self, admin: Option<TelegramUserId>) -> String {
        match admin {
            Some(id) => format!("quản trị viên {id}"),
            None => "chính khách hàng".into(),
        }
    }
    fn audit_action(&self, action: &AuditAction) -> String {
        match action {
            AuditAction::Adjusted { customer, amount, reason, .. } => {
                format!("điều chỉnh khách hàng #{customer} {}: {}", Signed(*amount), Esc(reason))
            }
            AuditAction::Blocked { customer, blocked: true } => format!("đã khoá khách hàng #{customer}"),
            AuditAction::Blocked { customer, .. } => format!("đã mở khoá khách hàng #{customer}"),
            AuditAction::PartnerDecided { partner, status, .. } => {
                format!("đối tác #{partner}: {}", self.status(*status))
            }
            AuditAction::Erased { customer } => format!("đã xoá khách hàng #{customer}"),
        }
    }
    fn audit_more(&self, before: i64) -> String {
        format!("Cũ hơn: /audit {before}")
    }
    fn reward_usage(&self) -> &'static str {
        "Đăng phần thưởng khách hàng đổi bằng điểm:\n\
         <code>/reward GIÁ [stock=N] [category=NAME] [from=YYYY-MM-DD] [until=YYYY-MM-DD] [photo=https://…]\n\
         Title | description\n\
         ru: Название | описание\n\
         vi: Tên | mô tả</code>\n\
         Tên đầu tiên được hiển thị cho các ngôn ngữ không có dòng riêng. Ví dụ:\n\
         <code>/reward 500 stock=20 category=drinks\nCà phê miễn phí | Cỡ bất kỳ</code>\n\
         /rewards — phần thưởng của bạn; /reward_withdraw <code>ID</code> — gỡ phần thưởng; \
         /voucher <code>MÃ</code> — nhận phiếu của khách"
    }
    fn reward_published(&self, pending: bool) -> &'static str {
        if pending {
            "✅ Đã đăng phần thưởng. Quản trị viên sẽ xem xét; khách hàng sẽ thấy sau khi được duyệt."
        } else {
            "✅ Đã đăng phần thưởng: khách hàng có thể nhận ngay."
        }
    }
    fn rewards_none_listed(&self) -> &'static str {
        "Không có phần thưởng nào."
    }
    fn voucher_usage(&self) -> &'static str {
        "Cách dùng: /voucher <code>MÃ</code> với mã khách đưa, ví dụ <code>/voucher ABCDE-FGH23</code>"
    }
    fn voucher_accepted(&self, title: Esc, customer: Esc) -> String {
        format!("✅ Đã nhận phiếu: hãy trao <b>{title}</b> cho {customer}. Phần thưởng đã được trả bằng điểm.")
    }
    fn voucher_used_before(&self, title: Esc, when: &str) -> String {
        format!("⚠️ Phiếu cho <b>{title}</b> này đã được dùng ({when} UTC). Đừng trao phần thưởng lần nữa.")
    }
    fn reward_proposed(&self, line: &str, id: RewardId) -> String {
        format!("🆕 Một đối tác đề xuất phần thưởng:\n{line}\n\n/reward_approve {id} · /reward_reject {id}")
    }
    fn reward_decided(&self, title: Esc, approved: bool) -> String {
        if approved {
            format!("✅ Phần thưởng <b>{title}</b> của bạn đã được duyệt: khách hàng có thể nhận ngay.")
        } else {
            format!("✖️ Phần thưởng <b>{title}</b> của bạn không được duyệt.")
        }
    }
    fn campaign_offer(&self, kind: CampaignKind, times: &str, points: Pts, n: u32, window_days: u32) -> String {
        match kind {
            CampaignKind::Multiplier => format!("×{times} điểm"),
            CampaignKind::FirstPurchase => format!("+{points} cho lần mua đầu tiên"),
            CampaignKind::Birthday => format!("+{points} cho lần mua trong {window_days} ngày kể từ sinh nhật"),
            CampaignKind::NthVisit => format!("+{points} cho mỗi lần ghé thứ {n}"),
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
        format!("<b>#{id} {title}</b> — {status}\n{offer}; {when}\nĐã trả {issued} / {budget} điểm.")
    }
    fn campaign_created(&self, pending: bool) -> &'static str {
        if pending {
            "✅ Chiến dịch đã được gửi tới quản trị viên để duyệt."
        } else {
            "✅ Đã tạo chiến dịch."
        }
    }
    fn campaigns_none(&self) -> &'static str {
        "Chưa có chiến dịch nào. /campaign hướng dẫn cách tạo."
    }
    fn campaign_usage(&self, example: &str) -> String {
        format!(
            "Gửi /campaign kèm một tài liệu như sau (loại: multiplier, first_purchase, birthday, nth_visit):\n<pre>{example}</pre>\n/campaigns để xem danh sách; /campaign_end ID để kết thúc."
        )
    }
    fn campaign_proposed(&self, partner: PartnerId, line: &str, id: CampaignId) -> String {
        format!(
            "📣 Đối tác #{partner} đề xuất một chiến dịch:\n{line}\n\n/campaign_approve {id} · /campaign_reject {id}"
        )
    }
    fn birthday_set(&self, day: u8, month: u8) -> String {
        format!("🎂 Đã lưu ngày sinh của bạn: {day:02}.{month:02}. Quà sinh nhật sẽ đến với bạn.")
    }
    fn birthday_usage(&self) -> &'static str {
        "Gửi ngày sinh theo dạng /birthday NN.TT, ví dụ /birthday 17.05. Chỉ có thể đặt một lần."
    }
    fn tier_progress_spend(&self, needed: Pts, next: Esc) -> String {
        format!("Mua thêm {needed} nữa để lên <b>{next}</b>.")
    }
    fn tier_progress(&self, needed: Pts, next: Esc) -> String {
        format!("Còn {needed} điểm tích lũy nữa để lên <b>{next}</b>.")
    }
    fn redemption_expired(&self, id: RedemptionId, points: Pts, purchase: Pts) -> String {
        format!(
            "⌛ Yêu cầu #{id} ({points} điểm cho giao dịch {purchase}) đã hết hạn: khách không xác nhận kịp. \
             Không có điểm nào bị trừ."
        )
    }
    // --------------------------------------------------------- admin bot
    fn status(&self, status: PartnerStatus) -> &'static str {
        match status {
            PartnerStatus::Applied => "đang chờ",
            PartnerStatus::Approved => "đã duyệt",
            PartnerStatus::Rejected => "bị từ chối",
            PartnerStatus::Suspended => "tạm ngưng",
        }
    }
    fn application(&self, id: PartnerId, name: Esc, category: Esc, who: &str, language: &str) -> String {
        format!(
            "📝 <b>Đơn đăng ký đối tác #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nNgôn ngữ: {language}"
        )
    }
    fn more_pending(&self, more: usize) -> String {
        format!("…và {more} đơn nữa. Hãy xử lý các đơn này rồi gửi lại /pending.")
    }
    fn verdict(&self, status: PartnerStatus, by: Esc) -> String {
        match status {
            PartnerStatus::Approved => format!("✅ Đã duyệt bởi {by}"),
            PartnerStatus::Rejected => format!("✖️ Đã từ chối bởi {by}"),
            s => format!("Trạng thái: {} ({by})", self.status(s)),
        }
    }
    fn decision_result(&self, p: &Partner, changed: bool) -> String {
        let (id, name, status) = (p.id, Esc(&p.name), self.status(p.status));
        if changed {
            format!("Đối tác #{id} {name}: {status}.")
        } else {
            format!("Đối tác #{id} {name} đã ở trạng thái {status}.")
        }
    }
    fn decision_toast(&self, p: &Partner, changed: bool) -> String {
        let (id, status) = (p.id, self.status(p.status));
        if changed {
            format!("Đối tác #{id}: {status}.")
        } else {
            format!("Đối tác #{id} đã ở trạng thái {status}.")
        }
    }
    fn partner_terms(&self, earn: &str, share: &str, limit: Pts) -> String {
        format!("tích {earn}, trả ≤ {share}, ≤ {limit} điểm/ngày")
    }
    fn partners_count(&self, count: usize) -> String {
        format!("<b>Đối tác: {count}</b>")
    }
    fn rules_version(&self, version: u32, since: Option<&str>, json: Esc) -> String {
        let since = since.map_or_else(|| "mặc định".to_owned(), |at| format!("từ {at} UTC"));
        format!(
            "📜 <b>Quy tắc chương trình, phiên bản {version}</b> ({since})\n<pre>{json}</pre>\n\
             Để thay đổi, hãy gửi <code>/rules</code> kèm tài liệu JSON mới."
        )
    }
    fn rules_set(&self, version: u32) -> String {
        format!("✅ Quy tắc phiên bản {version} đã có hiệu lực: điểm tích từ bây giờ sẽ theo quy tắc này.")
    }
    fn usage_partner_id(&self, command: &str) -> String {
        format!("Cách dùng: /{command} <code>ID</code> với số đối tác trong /partners.")
    }
    fn partner_approved(&self, name: Esc) -> String {
        format!(
            "🎉 <b>{name}</b> đã trở thành đối tác của chương trình!\n\
             Quét thẻ QR của khách (hoặc gửi mã của khách) để cộng điểm hoặc nhận thanh toán bằng điểm.\n\
             /credit <code>MÃ SỐ_TIỀN</code> — cộng điểm\n\
             /redeem <code>MÃ ĐIỂM SỐ_TIỀN</code> — trả bằng điểm\n\
             /stats — số liệu · /apikey — khóa cho máy POS"
        )
    }
    fn partner_rejected(&self, name: Esc) -> String {
        format!("Rất tiếc, đơn đăng ký cho <b>{name}</b> đã bị từ chối. Bạn có thể đăng ký lại bằng /apply.")
    }
    fn partner_suspended(&self, name: Esc) -> String {
        format!("⛔ Tài khoản đối tác <b>{name}</b> đã bị tạm ngưng. Vui lòng liên hệ quản trị viên.")
    }
    fn not_a_code(&self, input: Esc) -> String {
        format!("«{input}» không phải là mã khách hàng (8 chữ và số).")
    }
    fn adjusted(&self, amount: Signed, name: Esc, code: &str, balance: Pts, entry: EntryId) -> String {
        format!("✅ {amount} điểm cho {name} (<code>{code}</code>). Số dư mới: <b>{balance}</b>. Bút toán #{entry}.")
    }
    fn customer_adjusted(&self, amount: Signed, reason: Esc, balance: Pts) -> String {
        format!("ℹ️ Số dư của bạn đã được điều chỉnh: <b>{amount}</b> điểm.\nLý do: {reason}\nSố dư: <b>{balance}</b>.")
    }
    fn usage_block(&self, command: &str) -> String {
        format!("Cách dùng: /{command} <code>MÃ</code>")
    }
    fn customer_blocked(&self, name: Esc, code: &str, blocked: bool) -> String {
        if blocked {
            format!("⛔ {name} (<code>{code}</code>) đã bị khóa: không tích và không dùng điểm.")
        } else {
            format!("✅ {name} (<code>{code}</code>) đã được mở khóa.")
        }
    }
    fn broadcast_too_long(&self, max: usize) -> String {
        format!("Nội dung quá dài: tối đa {max} ký tự.")
    }
    fn audience(&self, audience: Audience) -> &'static str {
        match audience {
            Audience::Customers => "khách hàng",
            Audience::Partners => "đối tác",
        }
    }
    fn broadcast_queued(&self, id: BroadcastId, total: u32, to: &str) -> String {
        format!("📣 Đã xếp hàng thông báo #{id} tới {total} {to}. Tiến độ sẽ được báo tại đây.")
    }
    fn broadcast_progress(&self, job: &BroadcastJob) -> String {
        format!("📣 Thông báo #{}: đã gửi {}, lỗi {} trên {}…", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_done(&self, job: &BroadcastJob) -> String {
        format!("✅ Thông báo #{} hoàn tất: đã gửi {}, lỗi {} trên {}.", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_paused(&self, id: BroadcastId) -> String {
        format!("⚠️ Thông báo #{id} tạm dừng do lỗi lưu trữ; sẽ tiếp tục từ chỗ đã dừng.")
    }
    fn webhook_alert(&self, bot: &str, pending: u64, error: Option<&str>) -> String {
        let error = error.map(|e| format!("\nLỗi gửi gần nhất: <code>{}</code>", escape_html(e))).unwrap_or_default();
        format!("🚨 Webhook của bot <b>{bot}</b> đang bị chậm: <b>{pending}</b> cập nhật đang chờ.{error}")
    }
    fn webhook_cleared(&self, bot: &str, pending: u64) -> String {
        format!("✅ Webhook của bot <b>{bot}</b> đã ổn định trở lại ({pending} cập nhật đang chờ).")
    }
    fn program_stats(&self, s: &ProgramStats) -> String {
        let (c, pa, pp, out) = (s.customers, s.partners_approved, s.partners_pending, Pts(s.points_outstanding));
        let (e30, e90) = (Pts(s.expiring_30_days), Pts(s.expiring_90_days));
        let (tc, tp, ti, tr) = (s.today.customers, s.today.purchases, Pts(s.today.issued), Pts(s.today.redeemed));
        format!(
            "📊 <b>Chương trình</b>\nKhách hàng: <b>{c}</b>\nĐối tác: <b>{pa}</b> đã duyệt, <b>{pp}</b> đang chờ\n\
             Điểm đang lưu hành: <b>{out}</b>\nHết hạn trong 30 ngày: {e30} · trong 90 ngày: {e90}\n\n<b>Hôm nay</b>\nKhách hàng: {tc} · giao dịch: {tp}\n\
             Điểm đã cộng: {ti} · đã dùng: {tr}"
        )
    }
    // -------------------------------------------------------- API errors
    fn api(&self, m: &ApiText) -> String {
        use ApiText::*;
        match m {
            NotConfigured(setting) => format!("{setting} chưa được cấu hình trên máy chủ này."),
            ClientBotNotConfigured => "Bot khách hàng chưa được cấu hình trên máy chủ này.".into(),
            AlertBotNotConfigured => "Bot cảnh báo Sentry chưa được cấu hình trên máy chủ này.".into(),
            UnsupportedMediaType => "Nội dung phải là JSON (Content-Type: application/json).".into(),
            PayloadTooLarge => "Nội dung yêu cầu lớn hơn 1 MiB.".into(),
            MethodNotAllowed(methods) => format!("Hãy dùng {} cho đường dẫn này.", methods.join(" hoặc ")),
            NotFound => "Không có đường dẫn này.".into(),
            MissingAuth => "Hãy gửi Authorization: tma <initData>.".into(),
            InvalidInitData(why) => format!("Dữ liệu Mini App không hợp lệ: {why}."),
            InitDataWithoutUser => "Dữ liệu Mini App không hợp lệ: không có người dùng.".into(),
            WrongBot { signer, wanted } => format!(
                "Dữ liệu Mini App này được ký cho bot «{}»; yêu cầu này cần dữ liệu của bot «{}»: hãy mở ứng dụng từ bot đó.",
                signer.as_str(),
                wanted.as_str()
            ),
            ApiKeyRequired => {
                "Yêu cầu này cần khóa API của đối tác (Authorization: Bearer <khóa>), không phải dữ liệu Mini App."
                    .into()
            }
            NotRegistered => "Bạn chưa đăng ký: hãy bắt đầu với bot trước.".into(),
            NotAdmin => "Chỉ quản trị viên của chương trình (thành viên nhóm quản trị) mới xem được mục này.".into(),
            MalformedQuery => "Chuỗi truy vấn không hợp lệ.".into(),
            InvalidLimit => "limit phải là số nguyên từ 1 đến 100.".into(),
            InvalidBefore => "before phải là mã bút toán (số nguyên dương).".into(),
            InvalidParameter(name, range) => format!("Tham số truy vấn {name} không hợp lệ: {range}."),
            InvalidLanguage => "Ngôn ngữ phải là \"ru\", \"en\" hoặc \"vi\".".into(),
            PartnerBotUnknown => "Chưa biết tên bot đối tác; hãy thử lại sau.".into(),
            CardFailed => "Không thể vẽ thẻ.".into(),
            InvalidApiKey => "Hãy gửi Authorization: Bearer <khóa API> với khóa hợp lệ.".into(),
            RateLimited(limit) => format!(
                "Quá nhiều yêu cầu với khóa này: tối đa {limit} mỗi phút. Thử lại sau thời gian trong Retry-After."
            ),
            InvalidAdminToken => "Hãy gửi Authorization: Bearer <ADMIN_API_TOKEN> với mã quản trị của máy chủ.".into(),
            InvalidIdempotencyKey => "Hãy gửi tiêu đề Idempotency-Key dài 1 đến 128 ký tự: chữ, số, _ - : và .".into(),
            InvalidBody(why) => format!("Nội dung JSON không hợp lệ: {why}."),
            InvalidCustomerCode => "customer_code phải là mã thẻ gồm 8 ký tự, hoặc mã hiển thị trong ứng dụng.".into(),
            CardCodeExpired => "Mã thẻ đã hết hạn: hãy nhờ khách hàng đưa lại thẻ.".into(),
            InvalidSignature => "Sentry-Hook-Signature bị thiếu hoặc sai.".into(),
            BodyNotJson => "Nội dung không phải JSON hợp lệ.".into(),
            Unavailable => "Tạm thời không khả dụng; hãy thử lại sau.".into(),
            Internal => "Lỗi nội bộ; đội ngũ đã được thông báo.".into(),
            CorsForbidden => "Nguồn này không được phép gọi API.".into(),
            Rejected(r) => self.rejection(r),
        }
    }
}
