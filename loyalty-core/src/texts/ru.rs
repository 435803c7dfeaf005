use super::*;

/// The Russian texts.
pub(super) struct Ru;

impl Texts for Ru {
    // ------------------------------------------------------------ common
    fn fixed(&self, m: Fixed) -> &'static str {
        use Fixed::*;
        match m {
            // common
            InternalError => "Что-то пошло не так. Команда уже уведомлена, попробуйте позже.",
            LanguageName => "🇷🇺 Русский",
            EnglishName => "Russian",
            // client bot
            Blocked => "⛔ Ваш аккаунт заблокирован: начисление и списание баллов недоступны. Обратитесь в поддержку.",
            NeedStart => "Чтобы начать, отправьте /start.",
            HelpTitle => "Что я умею:",
            HelpCommands => {
                "Команды: /balance /history /card /partners /rewards /vouchers /invite /ask /language /app /birthday /stamps /mydata /erase /menu"
            }
            Unknown => "🤔 Не понял. Воспользуйтесь кнопками меню.",
            BalanceRecent => "Последние операции:",
            NoHistory => "📜 Операций пока нет.",
            HistoryTitle => "📜 Последние операции:",
            NoPartnersYet => "🏪 Партнёров пока нет — скоро появятся!",
            CameFromPartner => "📍 Вы пришли от этого партнёра — покажите там свою карту:",
            PartnersTitle => "🏪 Где копить и тратить баллы:",
            AskPrompt => "Задайте вопрос о программе — ответьте на это сообщение.",
            AskPlaceholder => "Ваш вопрос",
            AssistantUnavailable => "💬 Помощник сейчас недоступен. Загляните в «🏪 Партнёры» или спросите на кассе.",
            Thinking => "🤔 Думаю…",
            AssistantFailed => "😔 Не получилось ответить на вопрос. Попробуйте ещё раз чуть позже.",
            ProgramFallback => "программа лояльности",
            LanguageChoose => "🌐 Выберите язык:",
            LanguageSet => "✅ Язык: русский.",
            AppOpen => "📱 Откройте приложение программы:",
            AppUnavailable => "📱 Приложение пока недоступно — всё можно сделать здесь, в чате.",
            AdminAppInGroup => {
                "📱 В группе Telegram не открывает приложение по кнопке: откройте показатели программы из профиля этого бота (его главное мини-приложение)."
            }
            CardCodeExpired => "⌛ Этот код карты устарел: попросите клиента ещё раз показать карту в приложении.",
            RedemptionConfirmedToast => "✅ Оплата подтверждена",
            RedemptionDeclinedToast => "Запрос отклонён",
            AlreadyConfirmed => "Уже подтверждено",
            AlreadyDeclined => "Уже отклонено",
            StaleButton => "Эта кнопка больше не действует.",
            // partner bot
            ApplyPrompt => {
                "<b>Станьте партнёром программы лояльности.</b>\nВаши клиенты получают баллы за покупки и оплачивают \
                 ими часть следующих; начислять и списывать баллы можно прямо здесь.\n\nЧтобы подать заявку, \
                 <b>ответьте на это сообщение</b>: название заведения и категория через точку с запятой, например:\n\
                 <code>Кофейня Зерно; кафе</code>"
            }
            ApplyPlaceholder => "Название; категория",
            ApplicationFormatError => {
                "Пришлите название (до 100 символов) и категорию (до 50) одной строкой через точку с запятой, \
                 например: <code>Кофейня Зерно; кафе</code>. Ответьте на это сообщение."
            }
            ApplicationRejected => "Ваша заявка отклонена. Вы можете подать новую командой /apply.",
            ApplicationWaiting => "⏳ Ваша заявка ожидает одобрения. Мы напишем вам здесь.",
            Suspended => "⛔ Ваш аккаунт партнёра приостановлен. Обратитесь к администраторам программы.",
            NotAPartner => "Вы ещё не партнёр программы. Отправьте /start, чтобы подать заявку.",
            OwnerOnly => {
                "Это может только владелец партнёра; кассиры начисляют баллы, принимают оплату баллами, ставят штампы и принимают ваучеры. Ещё не партнёр? Отправьте /start, чтобы подать заявку."
            }
            PartnerHelp => {
                "<b>Команды</b>\n\
                 Отсканируйте QR-карту клиента или пришлите его код, чтобы открыть её.\n\
                 /credit <code>КОД СУММА</code> — начислить баллы за покупку\n\
                 /redeem <code>КОД БАЛЛЫ СУММА</code> — предложить клиенту оплатить баллами\n\
                 /reverse <code>ID</code> — отменить операцию (в течение 24 ч)\n\
                 /stats — ваши показатели за сегодня и 7 дней\n\
                 /apikey — ключ для кассовой системы (новый заменяет старый); /apikey revoke — отозвать\n\
                 /campaign — акция в вашем заведении; /campaigns — ваши акции\n\
                 /reward — награда за баллы; /rewards — ваши награды; /voucher <code>КОД</code> — принять ваучер\n\
                 /stamps <code>N НАГРАДА</code> — карта штампов; /stamp <code>КОД</code> — штамп за визит\n\
                 /staff — ваши кассиры: пригласить и отозвать\n\
                 /webhooks — ваши адреса для подписанных событий; /webhook_add <code>URL СОБЫТИЯ</code>, /webhook_remove <code>ID</code>\n\
                 /app — приложение программы\n\
                 /help — этот список"
            }
            CustomerCardBlocked => "⛔ Аккаунт заблокирован: начислять и списывать баллы нельзя.",
            ButtonCredit => "➕ Начислить",
            ButtonRedeem => "🎁 Оплата баллами",
            CreditPrompt => "сумма покупки? Ответьте числом, например 1500.",
            AmountPlaceholder => "Сумма покупки",
            RedeemPrompt => "сколько баллов списать и сумма покупки? Ответьте двумя числами, например 100 5000.",
            RedeemPlaceholder => "Баллы Сумма",
            BadAmount => "Суммы — целые положительные числа, например 1500 или 1 500.",
            UsageCredit => "Формат: /credit <code>КОД СУММА</code>, например <code>/credit ABCD2345 1500</code>",
            UsageRedeem => {
                "Формат: /redeem <code>КОД БАЛЛЫ СУММА</code>, например <code>/redeem ABCD2345 100 5000</code>"
            }
            UsageReverse => {
                "Формат: /reverse <code>ID</code> — номер операции из подтверждения, например <code>/reverse 42</code>"
            }
            ButtonConfirm => "✅ Подтвердить",
            ButtonDecline => "✖️ Отклонить",
            // admin bot
            Refusal => "Этот бот только для администраторов программы.",
            AdminHelp => {
                "<b>Команды администратора</b>\n\
                 /pending — ожидающие заявки с кнопками «Одобрить» / «Отклонить»\n\
                 /partners — все партнёры со статусом и условиями\n\
                 /approve <code>ID</code>, /reject <code>ID</code>, /suspend <code>ID</code> — решение по партнёру\n\
                 /adjust <code>КОД ±БАЛЛЫ ПРИЧИНА</code> — скорректировать баланс клиента\n\
                 /block <code>КОД</code>, /unblock <code>КОД</code> — заблокировать или разблокировать клиента\n\
                 /broadcast <code>customers|partners ТЕКСТ</code> — рассылка всем\n\
                 /stats — показатели программы\n\
                 /rules — правила программы; <code>/rules JSON</code> задаёт новую версию\n\
                 /campaign <code>JSON</code> — акция; /campaigns — все, с выданным из бюджета\n\
                 /campaign_approve <code>ID</code>, /campaign_reject <code>ID</code>, /campaign_end <code>ID</code> — решить или завершить\n\
                 /rewards — награды партнёров на проверке; /reward_approve <code>ID</code>, /reward_reject <code>ID</code>, /reward_withdraw <code>ID</code>\n\
                 /audit — журнал аудита: корректировки, блокировки, решения по партнёрам, удаления\n\
                 /erase <code>КОД</code> — удалить личные данные клиента по его просьбе\n\
                 /webhooks — адреса программы для подписанных событий; /webhook_add <code>URL СОБЫТИЯ</code>, /webhook_remove <code>ID</code>\n\
                 /help — этот список"
            }
            ButtonApprove => "✅ Одобрить",
            ButtonReject => "✖️ Отклонить",
            NoPending => "Нет ожидающих заявок.",
            NoPartners => "Партнёров пока нет.",
            UsageAdjust => {
                "Формат: /adjust <code>КОД ±БАЛЛЫ ПРИЧИНА</code>, например <code>/adjust ABCD2345 -50 двойная покупка</code>"
            }
            ReasonRequired => "Укажите причину (до 200 символов) — клиент её увидит.",
            UsageBroadcast => {
                "Формат: /broadcast <code>customers ТЕКСТ</code> или /broadcast <code>partners ТЕКСТ</code>. \
                 Текст отправляется как есть."
            }
        }
    }
    fn points(&self, n: Points) -> String {
        format!("{} {}", Pts(n), ru_plural(n.unsigned_abs(), "балл", "балла", "баллов"))
    }
    fn decimal_sep(&self) -> char {
        ','
    }
    fn entry_kind(&self, kind: EntryKind) -> &'static str {
        match kind {
            EntryKind::WelcomeBonus => "Приветственный бонус",
            EntryKind::ReferralBonus => "Бонус за друга",
            EntryKind::Accrual => "Покупка",
            EntryKind::Redemption => "Оплата баллами",
            EntryKind::Reversal => "Отмена операции",
            EntryKind::Adjustment => "Корректировка",
            EntryKind::Import => "Перенесённый баланс",
            EntryKind::Legacy => "История до переноса",
            EntryKind::Expiry => "Баллы сгорели",
        }
    }
    fn rejection(&self, r: &Rejection) -> String {
        use Rejection::*;
        match r {
            UnknownCustomer => "Клиент с таким кодом не найден. Проверьте код на карте клиента.".into(),
            UnknownPartner => "Такой партнёр не зарегистрирован.".into(),
            UnknownEntry => "У вас нет такой операции.".into(),
            UnknownRedemption => "Этот запрос больше не существует.".into(),
            CustomerBlocked => "Этот аккаунт заблокирован. Обратитесь в поддержку.".into(),
            PartnerNotApproved { .. } => "Ваш аккаунт партнёра ещё не одобрен.".into(),
            InsufficientBalance { balance, requested } => {
                format!("Недостаточно баллов: на балансе {}, нужно {}.", Pts(*balance), Pts(*requested))
            }
            ExceedsMaxShare { max } => format!("Этой покупкой можно оплатить не больше {} баллов.", Pts(*max)),
            DailyLimitExceeded { remaining } => {
                format!("Достигнут дневной лимит начислений: сегодня осталось {} баллов.", Pts(*remaining))
            }
            InvalidAmount => "Сумма должна быть целым положительным числом.".into(),
            AlreadyReversed => "Эта операция уже отменена.".into(),
            NotReversible => "Отменить можно только начисление за покупку или оплату баллами.".into(),
            ReversalWindowClosed => "Отменить операцию можно только в течение 24 часов.".into(),
            RedemptionExpired => "Срок запроса истёк. Попросите кассира отправить новый.".into(),
            RedemptionClosed { .. } => "На этот запрос уже ответили.".into(),
            NotYourRedemption => "Этот запрос адресован другому человеку.".into(),
            IdempotencyConflict => "Эта операция уже была отправлена с другими данными.".into(),
            CodeTaken => "Пожалуйста, попробуйте ещё раз.".into(),
            InvalidTransition => "Статус партнёра не позволяет это сделать.".into(),
            AlreadyPartner => "Вы уже зарегистрированы как партнёр.".into(),
            InvalidImport => "Пакет импорта некорректен.".into(),
            InvalidRules { reason } => format!("Документ правил некорректен: {reason}"),
            InvalidCampaign { reason } => format!("Акция задана неверно: {reason}"),
            UnknownCampaign => "Такой акции нет.".into(),
            CampaignClosed { status } => format!("Акция {}, так изменить её нельзя.", self.campaign_status(*status)),
            PartnerCampaignsOff => "Программа не разрешает партнёрам проводить акции.".into(),
            BirthdayAlreadySet { birthday } => {
                format!(
                    "День рождения уже указан ({:02}.{:02}); его можно указать только один раз.",
                    birthday.day, birthday.month
                )
            }
            InvalidReward { reason } => format!("Награда заполнена неверно: {reason}"),
            InvalidStampCard { reason } => format!("Карта штампов заполнена неверно: {reason}"),
            NoStampCard => "У этого партнёра нет карты штампов.".into(),
            UnknownReward => "Такой награды нет.".into(),
            RewardUnavailable => "Эту награду сейчас нельзя получить.".into(),
            OutOfStock => "Эта награда закончилась.".into(),
            RewardClosed { .. } => "По этой награде уже принято решение.".into(),
            UnknownVoucher => "Такого ваучера здесь нет. Проверьте код.".into(),
            VoucherClosed { status } => match status {
                VoucherStatus::Used => "Этот ваучер уже использован.".into(),
                _ => "Этот ваучер отменён.".into(),
            },
            InvalidInvite => "Эта ссылка-приглашение недействительна: срок истёк, её отозвали или ею уже воспользовались. Попросите у партнёра новую.".into(),
            StaffLimit { max } => format!("У партнёра может быть не больше {max} кассиров и открытых приглашений. Сначала отзовите кого-нибудь (/staff)."),
            AlreadyStaff => "Вы уже кассир. Попросите партнёра сначала отозвать вас.".into(),
            UnknownStaff => "У вас нет такого кассира.".into(),
            InvalidWebhook { reason } => format!("Неверный адрес вебхука: {reason}"),
            WebhookLimit { max } => format!("Не больше {max} адресов вебхуков; сначала удалите один."),
            UnknownWebhook => "Такого адреса вебхука нет.".into(),
        }
    }
    // -------------------------------------------------------- client bot
    fn button(&self, b: Button) -> &'static str {
        match b {
            Button::Balance => "💰 Баланс",
            Button::History => "📜 История",
            Button::Card => "💳 Моя карта",
            Button::Partners => "🏪 Партнёры",
            Button::Rewards => "🛍 Награды",
            Button::Invite => "🎁 Пригласить друга",
            Button::Ask => "💬 Задать вопрос",
            Button::Language => "🌐 Язык",
            Button::App => "📱 Открыть приложение",
        }
    }
    fn welcome(&self, name: Esc, bonus_line: &str, balance: Points) -> String {
        format!(
            "👋 Добро пожаловать, {name}!\nВы в программе лояльности: копите баллы у партнёров и оплачивайте ими покупки.{bonus_line}\nВаш баланс: <b>{}</b>.\n\nНажмите «💳 Моя карта» и покажите QR-код на кассе.",
            self.points(balance)
        )
    }
    fn welcome_bonus(&self, bonus: Points) -> String {
        format!("\n🎁 Приветственный бонус: <b>{}</b>.", self.points(bonus))
    }
    fn welcome_back(&self, name: Esc, balance: Points) -> String {
        format!("👋 С возвращением, {name}! Ваш баланс: <b>{}</b>.", self.points(balance))
    }
    fn referral_credited(&self, friend: Esc, bonus: Points, balance: Points) -> String {
        let (bonus, balance) = (self.points(bonus), self.points(balance));
        format!("🎉 {friend} присоединился по вашей ссылке! Вам начислено <b>{bonus}</b>. Баланс: <b>{balance}</b>.")
    }
    fn help_lines(&self) -> [&'static str; 8] {
        [
            "ваш баланс баллов",
            "последние операции",
            "QR-код для кассира",
            "где копить и тратить баллы",
            "награды за баллы; /vouchers — ваши ваучеры",
            "ссылка для друзей",
            "вопрос помощнику",
            "сменить язык",
        ]
    }
    fn balance(&self, balance: Points) -> String {
        format!("💰 Ваш баланс: <b>{}</b>", self.points(balance))
    }
    fn card_caption(&self, code: Esc) -> String {
        format!("💳 Ваша карта. Покажите QR-код кассиру или назовите код: <code>{code}</code>")
    }
    fn card_code_only(&self, code: Esc) -> String {
        format!("💳 Ваш код клиента: <code>{code}</code>\nНазовите его кассиру.")
    }
    fn partner_offer(&self, name: Esc, category: Esc, earn: &str, share: &str) -> String {
        format!("• <b>{name}</b> ({category}): возврат {earn} % баллами, баллами можно оплатить до {share} % чека")
    }
    fn partners_more(&self, more: usize) -> String {
        format!("…и ещё {more}")
    }
    fn invite(&self, link: Esc, reward: &str) -> String {
        format!("🎁 Пригласите друзей по вашей личной ссылке.{reward}\n\n{link}")
    }
    fn invite_reward(&self, bonus: Points) -> String {
        format!(" Когда друг присоединится, вы получите <b>{}</b>.", self.points(bonus))
    }
    fn invite_code_only(&self, code: Esc, reward: &str) -> String {
        format!("🎁 Попросите друга отправить этому боту: <code>/start ref_{code}</code>.{reward}")
    }
    fn invite_code_reward(&self, bonus: Points) -> String {
        format!(" Вы получите <b>{}</b>.", self.points(bonus))
    }
    fn question_too_long(&self, max: usize) -> String {
        format!("✂️ Вопрос слишком длинный. Пожалуйста, уложитесь в {max} символов.")
    }
    fn quota_exhausted(&self, limit: u32) -> String {
        let questions = ru_plural(u64::from(limit), "вопрос", "вопроса", "вопросов");
        format!("⏳ Сегодня вы уже задали {limit} {questions} — это дневной лимит. Возвращайтесь завтра!")
    }
    fn redemption_confirmed(&self, partner: Esc, paid: Points, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!("✅ Вы оплатили <b>{paid}</b> в «{partner}».\nБаланс: <b>{balance}</b>.")
    }
    fn redemption_declined(&self, partner: Esc, requested: Points) -> String {
        format!("❌ Вы отклонили списание <b>{}</b> в «{partner}». Баллы не списаны.", self.points(requested))
    }
    fn partner_confirmed(&self, code: Esc, paid: Points, request: i64, balance: Points) -> String {
        let (paid, balance) = (self.points(paid), self.points(balance));
        format!("✅ Клиент <code>{code}</code> оплатил <b>{paid}</b> по запросу #{request}. Его баланс: {balance}.")
    }
    fn partner_declined(&self, code: Esc, requested: Points, request: i64) -> String {
        let requested = self.points(requested);
        format!("❌ Клиент <code>{code}</code> отклонил списание <b>{requested}</b> по запросу #{request}.")
    }
    // ------------------------------------------------------- partner bot
    fn application_received(&self, name: Esc, category: Esc) -> String {
        format!(
            "✅ Заявка принята: <b>{name}</b> ({category}).\nАдминистратор скоро её рассмотрит — \
             мы напишем вам здесь."
        )
    }
    fn application_pending(&self, name: Esc) -> String {
        format!("⏳ Ваша заявка на <b>{name}</b> ожидает одобрения. Мы напишем вам здесь.")
    }
    fn partner_greeting(&self, name: Esc) -> String {
        format!("👋 <b>{name}</b>, вы партнёр программы.")
    }
    fn customer_card(&self, name: Esc, code: &str, balance: Pts) -> String {
        format!("👤 <b>{name}</b>, карта <code>{code}</code>\nБаланс: <b>{balance}</b> баллов")
    }
    fn partner_bad_code(&self, input: Esc) -> String {
        format!("«{input}» — не код клиента: код состоит из 8 букв и цифр, например ABCD2345.")
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
            "✅ <b>{points}</b> баллов клиенту {name} (<code>{code}</code>) за покупку на {purchase}.\n\
             Баланс клиента: {balance}. Операция #{entry}{}",
            if undo { format!("; отменить: /reverse {entry}") } else { ".".into() }
        )
    }
    fn credited_nothing(&self, code: &str, purchase: Pts) -> String {
        format!("Покупка на {purchase} слишком мала для начисления баллов; клиенту {code} ничего не начислено.")
    }
    fn customer_credited(&self, points: Signed, partner: Esc, balance: Pts) -> String {
        format!("🎉 <b>{points}</b> баллов в {partner}. Ваш баланс: <b>{balance}</b>.")
    }
    fn redemption_sent(&self, id: RedemptionId, name: Esc, code: &str, points: Pts, purchase: Pts) -> String {
        format!(
            "📨 Запрос #{id} отправлен клиенту {name} (<code>{code}</code>): оплатить <b>{points}</b> баллами покупку \
             на {purchase}.\nЖдём подтверждения клиента (10 мин); баллы спишутся только после него."
        )
    }
    fn customer_redemption_request(&self, partner: Esc, points: Pts, purchase: Pts, balance: Pts) -> String {
        format!(
            "🎁 <b>{partner}</b> предлагает оплатить <b>{points}</b> баллами покупку на {purchase}.\n\
             Ваш баланс: {balance}. Подтвердите в течение 10 минут."
        )
    }
    fn reversed(&self, original: EntryId, amount: Signed, code: &str, balance: Pts) -> String {
        format!("↩️ Операция #{original} отменена: {amount} баллов клиенту <code>{code}</code>. Баланс: {balance}.")
    }
    fn customer_reversed(&self, partner: Esc, amount: Signed, balance: Pts) -> String {
        format!("↩️ {partner} отменил операцию: <b>{amount}</b> баллов. Ваш баланс: <b>{balance}</b>.")
    }
    fn partner_stats_labels(&self) -> [&'static str; 5] {
        ["📊 <b>Сегодня / 7 дней</b>", "Клиенты", "Покупки", "Начислено баллов", "Списано баллов"]
    }
    fn api_key(&self, key: &str) -> String {
        format!(
            "🔑 Ваш API-ключ для кассы:\n<code>{key}</code>\n\nОн показан один раз: сохраните его и никому не \
             сообщайте. Передавайте его как <code>Authorization: Bearer …</code>. Новый /apikey заменит этот ключ."
        )
    }
    fn api_key_revoked(&self) -> &'static str {
        "🔒 Ключ для кассы отозван и больше не действует. /apikey выдаст новый."
    }
    fn points_expiring_soon(&self, points: Points, date: &str) -> String {
        format!("⏳ В ближайшие 30 дней сгорят {}, первые — {date}.", self.points(points))
    }
    fn expiry_reminder(&self, points: Points, date: &str) -> String {
        format!("⏳ Напоминание: {} сгорят {date}. Потратьте их у партнёров до этой даты!", self.points(points))
    }
    fn points_expired(&self, points: Points, balance: Points) -> String {
        format!("⌛ Сгорели неиспользованные {}. Ваш баланс: <b>{}</b>.", self.points(points), self.points(balance))
    }
    fn tier_changed(&self, up: bool, name: Option<Esc>) -> String {
        match (up, name) {
            (true, Some(n)) => format!("🏅 Поздравляем! Ваш уровень теперь <b>{n}</b>."),
            (false, Some(n)) => format!("Ваш уровень теперь <b>{n}</b>."),
            (_, None) => "Ваш уровень закончился. Новые покупки вернут его.".into(),
        }
    }
    fn earned_base(&self, base: Pts) -> String {
        format!("{base} базовых")
    }
    fn campaign_status(&self, status: CampaignStatus) -> &'static str {
        match status {
            CampaignStatus::Pending => "ждёт одобрения",
            CampaignStatus::Active => "идёт",
            CampaignStatus::Rejected => "отклонена",
            CampaignStatus::Ended => "завершена",
        }
    }
    fn tier_status(&self, name: Esc, times: &str) -> String {
        format!("🏅 Уровень: <b>{name}</b> (баллы × {times})")
    }
    fn tiers_line(&self, counts: &str) -> String {
        format!("🏅 Клиентов по уровням: {counts}")
    }
    fn reward_status(&self, status: RewardStatus) -> &'static str {
        match status {
            RewardStatus::Pending => "ждёт одобрения",
            RewardStatus::Active => "показывается",
            RewardStatus::Rejected => "отклонена",
            RewardStatus::Withdrawn => "снята",
        }
    }
    fn reward_head(&self, id: RewardId, title: Esc, partner: Esc, price: Pts) -> String {
        format!("🎁 <b>{title}</b> — {price} баллов\n🏪 {partner} · #{id}")
    }
    fn reward_left(&self, left: u32) -> String {
        format!("осталось {left}")
    }
    fn rewards_title(&self, category: Option<Esc>) -> String {
        match category {
            Some(c) => format!("🛍 <b>Награды: {c}</b>"),
            None => "🛍 <b>Награды, которые можно получить</b>".into(),
        }
    }
    fn rewards_none(&self) -> &'static str {
        "Сейчас нет наград, которые можно получить. Загляните позже!"
    }
    fn rewards_more(&self) -> &'static str {
        "Ещё ▶"
    }
    fn rewards_first(&self) -> &'static str {
        "⏮ В начало"
    }
    fn rewards_at(&self, partner: &str) -> String {
        format!("🏪 Ещё у {partner}")
    }
    fn reward_card(&self, line: &str, description: Esc) -> String {
        if description.0.is_empty() { line.to_owned() } else { format!("{line}\n\n{description}") }
    }
    fn reward_claim_button(&self, price: Pts) -> String {
        format!("🎁 Получить за {price} баллов")
    }
    fn voucher_issued(&self, title: Esc, partner: Esc, code: &str, balance: Points) -> String {
        format!(
            "🎟 Ваш ваучер на <b>{title}</b> в {partner}:\n\n<code>{code}</code>\n\nПокажите код на кассе; \
             он действует один раз. Баланс: <b>{}</b>.",
            self.points(balance)
        )
    }
    fn voucher_again(&self, title: Esc, code: &str) -> String {
        format!("🎟 Вы уже получили <b>{title}</b> здесь: ваш ваучер <code>{code}</code>.")
    }
    fn voucher_cancel_button(&self) -> &'static str {
        "✖️ Отменить и вернуть баллы"
    }
    fn voucher_cancelled(&self, title: Esc, points: Points, balance: Points) -> String {
        format!(
            "Ваучер на <b>{title}</b> отменён: возвращено {}. Баланс: <b>{}</b>.",
            self.points(points),
            self.points(balance)
        )
    }
    fn vouchers_title(&self) -> &'static str {
        "🎟 <b>Ваши ваучеры</b> (покажите код на кассе)"
    }
    fn vouchers_none(&self) -> &'static str {
        "У вас нет ваучеров. Получите награду: /rewards."
    }
    fn voucher_used_notice(&self, title: Esc, partner: Esc) -> String {
        format!("✅ Ваш ваучер на <b>{title}</b> использован в {partner}. Приятного!")
    }
    fn mydata_caption(&self) -> &'static str {
        "📄 Ваши данные в программе: профиль, день рождения, все операции и ваучеры (штампы: /stamps). \
         /erase удаляет ваши личные данные."
    }
    fn erase_confirm(&self, balance: Points) -> String {
        format!(
            "⚠️ <b>Удалить ваши личные данные?</b>\n\nИмя, имя пользователя, аккаунт Telegram и день рождения будут \
             удалены из программы; операции останутся обезличенными в учёте партнёров. Ваши {} сгорят, карта \
             перестанет работать. Отменить нельзя; позже /start сделает вас новым клиентом.",
            self.points(balance)
        )
    }
    fn erase_button(&self) -> &'static str {
        "🗑 Удалить мои данные"
    }
    fn erased(&self) -> &'static str {
        "Ваши личные данные удалены. До свидания! /start в любой момент сделает вас новым клиентом."
    }
    fn erase_expired(&self) -> &'static str {
        "Эта кнопка устарела. Отправьте /erase ещё раз, если всё ещё хотите удалить свои данные."
    }
    fn stamp_given_before(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!(
            "Этот штамп для {name} уже был поставлен ({dots} {stamps}/{needed}). Для нового визита отсканируйте карту снова."
        )
    }
    fn erase_usage(&self) -> &'static str {
        "Использование: /erase <code>КОД</code> показывает клиента; <code>/erase КОД confirm</code> удаляет его личные \
         данные (по его просьбе; отменить нельзя)."
    }
    fn erase_check(&self, name: Esc, code: &str, balance: Points) -> String {
        format!(
            "{name} (<code>{code}</code>), {}: отправьте <code>/erase {code} confirm</code>, чтобы удалить личные \
             данные. Баллы останутся на обезличенной записи.",
            self.points(balance)
        )
    }
    fn customer_erased(&self, id: CustomerId, replayed: bool) -> String {
        if replayed {
            format!("Клиент #{id} уже был удалён; ничего не изменилось.")
        } else {
            format!("🗑 Клиент #{id} удалён: остались только обезличенная запись и её операции.")
        }
    }
    fn audit_title(&self) -> &'static str {
        "<b>Журнал аудита</b> (сначала новые, UTC)"
    }
    fn audit_none(&self) -> &'static str {
        "В журнале аудита больше ничего нет."
    }
    fn stamps_usage(&self) -> &'static str {
        "Использование: /stamps <code>N НАГРАДА</code> запускает карту из N штампов (от 2 до 50), например \
         <code>/stamps 10 кофе в подарок</code>; <code>/stamps off</code> завершает её (штампы у клиентов \
         сохраняются). Штамп за визит: /stamp <code>КОД</code> или кнопка под отсканированной картой."
    }
    fn stamp_card_set(&self, needed: u32, reward: Esc) -> String {
        let word = match (needed % 10, needed % 100) {
            (1, n) if n != 11 => "штамп",
            (2..=4, n) if !(12..=14).contains(&n) => "штампа",
            _ => "штампов",
        };
        format!("🎟 Карта штампов работает: {needed} {word} — <b>{reward}</b>. Штамп: /stamp <code>КОД</code>.")
    }
    fn stamp_card_ended(&self) -> &'static str {
        "Карта штампов завершена. Если запустите её снова, штампы клиентов сохранятся."
    }
    fn stamp_usage(&self) -> &'static str {
        "Использование: /stamp <code>КОД</code>, например <code>/stamp ABCD2345</code>"
    }
    fn stamp_button(&self) -> &'static str {
        "🎟 Штамп"
    }
    fn stamped(&self, name: Esc, dots: &str, stamps: u32, needed: u32) -> String {
        format!("🎟 Штамп для {name}: {dots} {stamps}/{needed}")
    }
    fn stamp_filled(&self, name: Esc, reward: Esc) -> String {
        format!("🎉 Карта {name} заполнена: выдайте <b>{reward}</b>. Начинается новая карта.")
    }
    fn customer_stamped(&self, partner: Esc, dots: &str, stamps: u32, needed: u32, reward: Esc) -> String {
        format!("🎟 Штамп в {partner}: {dots} {stamps}/{needed} — полная карта даёт <b>{reward}</b>.")
    }
    fn customer_stamp_filled(&self, partner: Esc, reward: Esc) -> String {
        format!("🎉 Ваша карта в {partner} заполнена: <b>{reward}</b>! Начинается новая карта.")
    }
    fn stamp_cards_title(&self) -> &'static str {
        "🎟 <b>Ваши карты штампов</b>"
    }
    fn stamp_cards_none(&self) -> &'static str {
        "Пока ни один партнёр не ведёт карту штампов."
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
        let filled = if completed > 0 { format!(" (заполнено {completed}×)") } else { String::new() };
        format!("<b>{partner}</b>: {dots} {stamps}/{needed} → {reward}{filled}")
    }
    fn audit_usage(&self) -> &'static str {
        "Использование: /audit или /audit <code>ID</code> — записи до записи ID."
    }
    fn cashier_greeting(&self, partner: Esc) -> String {
        format!(
            "👋 Вы кассир в <b>{partner}</b>.\n\n\
             Отсканируйте QR-карту клиента или пришлите его код, чтобы открыть её.\n\
             /credit <code>КОД СУММА</code> — начислить баллы за покупку\n\
             /redeem <code>КОД БАЛЛЫ СУММА</code> — попросить клиента оплатить баллами\n\
             /stamp <code>КОД</code> — штамп за визит; /voucher <code>КОД</code> — принять ваучер\n\
             /app — приложение программы\n\
             /help — этот список"
        )
    }
    fn staff_title(&self) -> &'static str {
        "🧾 <b>Ваши сотрудники</b>"
    }
    fn staff_none(&self) -> &'static str {
        "Кассиров пока нет."
    }
    fn staff_usage(&self) -> &'static str {
        "/staff invite — одноразовая ссылка для нового кассира (действует 48 ч); /staff revoke <code>ID</code> — сразу закрыть доступ. \
         Кассиры начисляют баллы, принимают оплату баллами, ставят штампы и принимают ваучеры; ваших показателей и ключей они не видят."
    }
    fn staff_line(&self, id: i64, name: Esc, status: StaffStatus) -> String {
        match status {
            StaffStatus::Active => format!("#{id} {name} — кассир"),
            StaffStatus::Invited => format!("#{id} — приглашение ещё не использовано"),
            StaffStatus::Expired => format!("#{id} — приглашение истекло"),
            StaffStatus::Revoked => format!("#{id} {name} — отозван"),
        }
    }
    fn staff_revoke_button(&self, id: i64, name: &str) -> String {
        format!("✖ Отозвать #{id} {name}")
    }
    fn staff_invited(&self, id: i64, link: &str, hours: i64) -> String {
        format!("🧾 Приглашение #{id}: передайте его кассиру (сработает один раз, действует {hours} ч):\n{link}")
    }
    fn staff_joined(&self, partner: Esc) -> String {
        format!("✅ Теперь вы кассир в <b>{partner}</b>.")
    }
    fn staff_joined_owner(&self, id: i64, name: Esc) -> String {
        format!("🧾 {name} теперь кассир #{id}. /staff — список сотрудников.")
    }
    fn staff_revoked(&self, id: i64, name: Esc) -> String {
        format!("✖ {} отозван: доступа больше нет.", super::numbered(id, name))
    }
    fn staff_revoked_cashier(&self, partner: Esc) -> String {
        format!("Вы больше не кассир в {partner}.")
    }
    fn webhooks_title(&self) -> &'static str {
        "🔗 <b>Вебхуки</b>"
    }
    fn webhooks_none(&self) -> &'static str {
        "Вебхуков пока нет."
    }
    fn webhooks_usage(&self, events: &str) -> String {
        format!(
            "/webhook_add <code>URL СОБЫТИЯ</code> — подключить адрес <code>https://</code> для событий \
             (названия через запятую или пробел, или <code>all</code> — все), например: \
             <code>/webhook_add https://example.com/loyalty points.credited,points.redeemed</code>\n\
             /webhook_remove <code>ID</code> — отключить адрес\n\
             События: {events}\n\
             Каждое событие приходит подписанным POST-запросом (заголовок <code>Loyalty-Signature</code>); \
             пока адрес не ответит 2xx, отправка повторяется в течение суток."
        )
    }
    fn webhook_line(&self, id: i64, url: Esc, events: &str, attempt: Option<&str>, success: Option<&str>) -> String {
        format!(
            "#{id} <code>{url}</code>\n   События: {events}\n   Последняя попытка: {}\n   Последний успех: {}",
            attempt.unwrap_or("ещё не было"),
            success.map_or_else(|| "ещё не было".to_string(), |at| format!("{at} UTC"))
        )
    }
    fn webhook_no_answer(&self) -> &'static str {
        "нет ответа"
    }
    fn webhook_added(&self, id: i64, url: Esc, events: &str, secret: &str) -> String {
        format!(
            "✅ Вебхук #{id} подключён: <code>{url}</code>\nСобытия: {events}\n\n\
             🔑 Секрет подписи: <code>{secret}</code>\n\
             Он показан только сейчас — сохраните его в надёжном месте и передайте только вашему обработчику: \
             им он проверяет заголовок <code>Loyalty-Signature</code> каждого запроса. Потеряли секрет? \
             Отключите адрес и подключите заново."
        )
    }
    fn webhook_removed(&self, id: i64, url: Esc) -> String {
        format!("🗑 Вебхук #{id} (<code>{url}</code>) отключён: событий на него больше не будет.")
    }
    fn audit_by(&self, admin: Option<TelegramUserId>) -> String {
        match admin {
            Some(id) => format!("админ {id}"),
            None => "сам клиент".into(),
        }
    }
    fn audit_action(&self, action: &AuditAction) -> String {
        match action {
            AuditAction::Adjusted { customer, amount, reason, .. } => {
                format!("корректировка клиента #{customer} на {}: {}", Signed(*amount), Esc(reason))
            }
            AuditAction::Blocked { customer, blocked: true } => format!("клиент #{customer} заблокирован"),
            AuditAction::Blocked { customer, .. } => format!("клиент #{customer} разблокирован"),
            AuditAction::PartnerDecided { partner, status, .. } => {
                format!("партнёр #{partner}: {}", self.status(*status))
            }
            AuditAction::Erased { customer } => format!("клиент #{customer} удалён"),
        }
    }
    fn audit_more(&self, before: i64) -> String {
        format!("Раньше: /audit {before}")
    }
    fn reward_usage(&self) -> &'static str {
        "Опубликуйте награду, которую клиенты получают за баллы:\n\
         <code>/reward ЦЕНА [stock=N] [category=NAME] [from=ГГГГ-ММ-ДД] [until=ГГГГ-ММ-ДД] [photo=https://…]\n\
         Title | description\n\
         ru: Название | описание\n\
         vi: Tên | mô tả</code>\n\
         Первое название показывается на языках без своей строки. Например:\n\
         <code>/reward 500 stock=20 category=drinks\nКофе в подарок | Любой размер</code>\n\
         /rewards — ваши награды; /reward_withdraw <code>ID</code> — снять награду; \
         /voucher <code>КОД</code> — принять ваучер клиента"
    }
    fn reward_published(&self, pending: bool) -> &'static str {
        if pending {
            "✅ Награда опубликована. Администраторы её проверят; клиенты увидят её после одобрения."
        } else {
            "✅ Награда опубликована: клиенты уже могут её получить."
        }
    }
    fn rewards_none_listed(&self) -> &'static str {
        "Наград нет."
    }
    fn voucher_usage(&self) -> &'static str {
        "Формат: /voucher <code>КОД</code> — код, который показывает клиент, например <code>/voucher ABCDE-FGH23</code>"
    }
    fn voucher_accepted(&self, title: Esc, customer: Esc) -> String {
        format!("✅ Ваучер принят: выдайте <b>{title}</b> клиенту {customer}. Он уже оплачен баллами.")
    }
    fn voucher_used_before(&self, title: Esc, when: &str) -> String {
        format!("⚠️ Этот ваучер на <b>{title}</b> уже использован ({when} UTC). Не выдавайте награду повторно.")
    }
    fn reward_proposed(&self, line: &str, id: RewardId) -> String {
        format!("🆕 Партнёр предлагает награду:\n{line}\n\n/reward_approve {id} · /reward_reject {id}")
    }
    fn reward_decided(&self, title: Esc, approved: bool) -> String {
        if approved {
            format!("✅ Ваша награда <b>{title}</b> одобрена: клиенты уже могут её получить.")
        } else {
            format!("✖️ Ваша награда <b>{title}</b> не одобрена.")
        }
    }
    fn campaign_offer(&self, kind: CampaignKind, times: &str, points: Pts, n: u32, window_days: u32) -> String {
        match kind {
            CampaignKind::Multiplier => format!("×{times} баллов"),
            CampaignKind::FirstPurchase => format!("+{points} за первую покупку"),
            CampaignKind::Birthday => format!("+{points} за покупку в течение {window_days} дн. с дня рождения"),
            CampaignKind::NthVisit => format!("+{points} за каждый {n}-й визит"),
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
        format!("<b>#{id} {title}</b> — {status}\n{offer}; {when}\nВыдано {issued} из {budget} баллов.")
    }
    fn campaign_created(&self, pending: bool) -> &'static str {
        if pending {
            "✅ Акция отправлена администраторам программы на одобрение."
        } else {
            "✅ Акция создана."
        }
    }
    fn campaigns_none(&self) -> &'static str {
        "Акций пока нет. /campaign покажет, как её создать."
    }
    fn campaign_usage(&self, example: &str) -> String {
        format!(
            "Отправьте /campaign с таким документом (виды: multiplier, first_purchase, birthday, nth_visit):\n<pre>{example}</pre>\n/campaigns — список; /campaign_end ID — завершить."
        )
    }
    fn campaign_proposed(&self, partner: PartnerId, line: &str, id: CampaignId) -> String {
        format!("📣 Партнёр #{partner} предлагает акцию:\n{line}\n\n/campaign_approve {id} · /campaign_reject {id}")
    }
    fn birthday_set(&self, day: u8, month: u8) -> String {
        format!("🎂 День рождения сохранён: {day:02}.{month:02}. Бонусы ко дню рождения вас найдут.")
    }
    fn birthday_usage(&self) -> &'static str {
        "Отправьте день рождения так: /birthday ДД.ММ, например /birthday 17.05. Указать его можно только один раз."
    }
    fn tier_progress_spend(&self, needed: Pts, next: Esc) -> String {
        format!("До уровня <b>{next}</b> осталось совершить покупок на {needed}.")
    }
    fn tier_progress(&self, needed: Pts, next: Esc) -> String {
        format!("До уровня <b>{next}</b> осталось {needed} квалификационных баллов.")
    }
    fn redemption_expired(&self, id: RedemptionId, points: Pts, purchase: Pts) -> String {
        format!(
            "⌛ Запрос #{id} ({points} баллов за покупку на {purchase}) истёк: клиент не подтвердил вовремя. \
             Баллы не списаны."
        )
    }
    // --------------------------------------------------------- admin bot
    fn status(&self, status: PartnerStatus) -> &'static str {
        match status {
            PartnerStatus::Applied => "ожидает",
            PartnerStatus::Approved => "одобрен",
            PartnerStatus::Rejected => "отклонён",
            PartnerStatus::Suspended => "приостановлен",
        }
    }
    fn application(&self, id: PartnerId, name: Esc, category: Esc, who: &str, language: &str) -> String {
        format!("📝 <b>Заявка партнёра #{id}</b>\n<b>{name}</b> ({category})\nTelegram: {who}\nЯзык: {language}")
    }
    fn more_pending(&self, more: usize) -> String {
        format!("…и ещё {more}. Примите решение по этим и снова отправьте /pending.")
    }
    fn verdict(&self, status: PartnerStatus, by: Esc) -> String {
        match status {
            PartnerStatus::Approved => format!("✅ Одобрено: {by}"),
            PartnerStatus::Rejected => format!("✖️ Отклонено: {by}"),
            s => format!("Статус: {} ({by})", self.status(s)),
        }
    }
    fn decision_result(&self, p: &Partner, changed: bool) -> String {
        let (id, name, status) = (p.id, Esc(&p.name), self.status(p.status));
        if changed {
            format!("Партнёр #{id} {name}: {status}.")
        } else {
            format!("Партнёр #{id} {name} уже {status}.")
        }
    }
    fn decision_toast(&self, p: &Partner, changed: bool) -> String {
        let (id, status) = (p.id, self.status(p.status));
        if changed {
            format!("Партнёр #{id}: {status}.")
        } else {
            format!("Партнёр #{id} уже {status}.")
        }
    }
    fn partner_terms(&self, earn: &str, share: &str, limit: Pts) -> String {
        format!("начисление {earn}, оплата ≤ {share}, ≤ {limit} баллов/день")
    }
    fn partners_count(&self, count: usize) -> String {
        format!("<b>Партнёров: {count}</b>")
    }
    fn rules_version(&self, version: u32, since: Option<&str>, json: Esc) -> String {
        let since = since.map_or_else(|| "по умолчанию".to_owned(), |at| format!("с {at} UTC"));
        format!(
            "📜 <b>Правила программы, версия {version}</b> ({since})\n<pre>{json}</pre>\n\
             Чтобы изменить их, отправьте <code>/rules</code> и новый JSON-документ."
        )
    }
    fn rules_set(&self, version: u32) -> String {
        format!("✅ Действует версия правил {version}: начисления с этого момента следуют ей.")
    }
    fn usage_partner_id(&self, command: &str) -> String {
        format!("Формат: /{command} <code>ID</code> — номер партнёра из /partners.")
    }
    fn partner_approved(&self, name: Esc) -> String {
        format!(
            "🎉 <b>{name}</b> теперь партнёр программы!\n\
             Отсканируйте QR-карту клиента (или пришлите его код), чтобы начислить баллы или принять оплату баллами.\n\
             /credit <code>КОД СУММА</code> — начислить баллы\n\
             /redeem <code>КОД БАЛЛЫ СУММА</code> — оплата баллами\n\
             /stats — ваши показатели · /apikey — ключ для кассы"
        )
    }
    fn partner_rejected(&self, name: Esc) -> String {
        format!("К сожалению, заявка на <b>{name}</b> отклонена. Вы можете подать новую командой /apply.")
    }
    fn partner_suspended(&self, name: Esc) -> String {
        format!("⛔ Аккаунт партнёра <b>{name}</b> приостановлен. Обратитесь к администраторам.")
    }
    fn not_a_code(&self, input: Esc) -> String {
        format!("«{input}» — не код клиента (8 букв и цифр).")
    }
    fn adjusted(&self, amount: Signed, name: Esc, code: &str, balance: Pts, entry: EntryId) -> String {
        format!(
            "✅ {amount} баллов клиенту {name} (<code>{code}</code>). Новый баланс: <b>{balance}</b>. Запись #{entry}."
        )
    }
    fn customer_adjusted(&self, amount: Signed, reason: Esc, balance: Pts) -> String {
        format!("ℹ️ Ваш баланс скорректирован: <b>{amount}</b> баллов.\nПричина: {reason}\nБаланс: <b>{balance}</b>.")
    }
    fn usage_block(&self, command: &str) -> String {
        format!("Формат: /{command} <code>КОД</code>")
    }
    fn customer_blocked(&self, name: Esc, code: &str, blocked: bool) -> String {
        if blocked {
            format!("⛔ {name} (<code>{code}</code>) заблокирован: без начислений и списаний.")
        } else {
            format!("✅ {name} (<code>{code}</code>) разблокирован.")
        }
    }
    fn broadcast_too_long(&self, max: usize) -> String {
        format!("Текст слишком длинный: не больше {max} символов.")
    }
    fn audience(&self, audience: Audience) -> &'static str {
        match audience {
            Audience::Customers => "клиентам",
            Audience::Partners => "партнёрам",
        }
    }
    fn broadcast_queued(&self, id: BroadcastId, total: u32, to: &str) -> String {
        format!("📣 Рассылка #{id} поставлена в очередь: {total} получателей ({to}). Ход рассылки — здесь.")
    }
    fn broadcast_progress(&self, job: &BroadcastJob) -> String {
        format!("📣 Рассылка #{}: отправлено {}, ошибок {} из {}…", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_done(&self, job: &BroadcastJob) -> String {
        format!("✅ Рассылка #{} завершена: отправлено {}, ошибок {} из {}.", job.id, job.sent, job.failed, job.total)
    }
    fn broadcast_paused(&self, id: BroadcastId) -> String {
        format!("⚠️ Рассылка #{id} приостановлена из-за ошибки хранилища; она продолжится с того же места.")
    }
    fn webhook_alert(&self, bot: &str, pending: u64, error: Option<&str>) -> String {
        let error =
            error.map(|e| format!("\nПоследняя ошибка доставки: <code>{}</code>", escape_html(e))).unwrap_or_default();
        format!("🚨 Вебхук бота <b>{bot}</b> не успевает: ждут обработки <b>{pending}</b> обновлений.{error}")
    }
    fn webhook_cleared(&self, bot: &str, pending: u64) -> String {
        format!("✅ Вебхук бота <b>{bot}</b> снова в порядке (ждут обработки: {pending}).")
    }
    fn program_stats(&self, s: &ProgramStats) -> String {
        let (c, pa, pp, out) = (s.customers, s.partners_approved, s.partners_pending, Pts(s.points_outstanding));
        let (e30, e90) = (Pts(s.expiring_30_days), Pts(s.expiring_90_days));
        let (tc, tp, ti, tr) = (s.today.customers, s.today.purchases, Pts(s.today.issued), Pts(s.today.redeemed));
        format!(
            "📊 <b>Программа</b>\nКлиентов: <b>{c}</b>\nПартнёров: <b>{pa}</b> одобрено, <b>{pp}</b> ожидают\n\
             Баллов на балансах: <b>{out}</b>\nСгорит за 30 дней: {e30} · за 90 дней: {e90}\n\n<b>Сегодня</b>\nКлиентов: {tc} · покупок: {tp}\n\
             Начислено: {ti} · списано: {tr}"
        )
    }
    // -------------------------------------------------------- API errors
    fn api(&self, m: &ApiText) -> String {
        use ApiText::*;
        match m {
            NotConfigured(setting) => format!("{setting} не настроен на этом сервере."),
            ClientBotNotConfigured => "Клиентский бот не настроен на этом сервере.".into(),
            AlertBotNotConfigured => "Бот оповещений Sentry не настроен на этом сервере.".into(),
            UnsupportedMediaType => "Тело запроса должно быть JSON (Content-Type: application/json).".into(),
            PayloadTooLarge => "Тело запроса больше 1 МиБ.".into(),
            MethodNotAllowed(methods) => format!("Для этого маршрута используйте {}.", methods.join(" или ")),
            NotFound => "Такого маршрута нет.".into(),
            MissingAuth => "Передайте Authorization: tma <initData>.".into(),
            InvalidInitData(why) => format!("Неверные данные Mini App: {why}."),
            InitDataWithoutUser => "Неверные данные Mini App: нет пользователя.".into(),
            WrongBot { signer, wanted } => format!(
                "Эти данные Mini App подписаны для бота «{}», а этот запрос принимает данные бота «{}»: откройте приложение из него.",
                signer.as_str(),
                wanted.as_str()
            ),
            ApiKeyRequired => {
                "Этот запрос принимает API-ключ партнёра (Authorization: Bearer <ключ>), а не данные Mini App.".into()
            }
            NotRegistered => "Вы ещё не зарегистрированы: сначала запустите бота.".into(),
            NotAdmin => "Это видят только администраторы программы (участники админ-чата).".into(),
            MalformedQuery => "Строка запроса повреждена.".into(),
            InvalidLimit => "limit должен быть целым числом от 1 до 100.".into(),
            InvalidBefore => "before должен быть номером записи (целым положительным числом).".into(),
            InvalidParameter(name, range) => format!("Неверный параметр запроса {name}: {range}."),
            InvalidLanguage => "Язык должен быть \"ru\", \"en\" или \"vi\".".into(),
            PartnerBotUnknown => "Имя партнёрского бота пока неизвестно; повторите позже.".into(),
            CardFailed => "Не удалось нарисовать карту.".into(),
            InvalidApiKey => "Передайте Authorization: Bearer <API-ключ> с действующим ключом.".into(),
            RateLimited(limit) => format!(
                "Слишком много запросов с этим ключом: не больше {limit} в минуту. Повторите через время из Retry-After."
            ),
            InvalidAdminToken => {
                "Передайте Authorization: Bearer <ADMIN_API_TOKEN> с токеном администратора сервера.".into()
            }
            InvalidIdempotencyKey => {
                "Передайте заголовок Idempotency-Key из 1–128 символов: буквы, цифры, _ - : и .".into()
            }
            InvalidBody(why) => format!("Неверное тело JSON: {why}."),
            InvalidCustomerCode => "customer_code должен быть 8-символьным кодом карты или кодом из приложения.".into(),
            CardCodeExpired => "Код карты устарел: попросите клиента показать карту ещё раз.".into(),
            InvalidSignature => "Sentry-Hook-Signature отсутствует или неверна.".into(),
            BodyNotJson => "Тело запроса — не корректный JSON.".into(),
            Unavailable => "Временно недоступно; повторите позже.".into(),
            Internal => "Внутренняя ошибка; команда уже уведомлена.".into(),
            CorsForbidden => "Этому источнику нельзя обращаться к API.".into(),
            Rejected(r) => self.rejection(r),
        }
    }
}
