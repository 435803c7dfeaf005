//! [`Bots`]: which built-in bots a context runs, as each one's code. The
//! table's shape lives here, below the bots; [`crate::bots`] fills it (the
//! consts `Bots::CLIENT`, `Bots::PARTNER`, `Bots::ADMIN`, `Bots::ALL`), so
//! this module names no bot.

use super::{Context, Outbox};
use crate::domain::BotKind;
use crate::error::Result;
use crate::maybe_send::BoxFuture;
use crate::telegram::Update;

/// The code of one built-in bot, reached only through these pointers: a
/// program whose engines never hold them does not link the bot.
#[derive(Clone, Copy)]
pub(crate) struct BotCode {
    /// Handles an update to the bot.
    pub(crate) handle: for<'a> fn(&'a Context, &'a Update) -> BoxFuture<'a, Result<Outbox>>,
    /// Whether the bot claims the update (the rest goes to the program's
    /// [`Extension`](crate::Extension) first).
    pub(crate) claims: fn(&Update) -> bool,
}

/// Which built-in bots an engine serves: the code it runs for an update to
/// each (see [`Engine::serving`](crate::Engine::serving)).
///
/// A bot's code is reached only through this value, so a program (a Worker)
/// that builds its engine with, say, [`Bots::CLIENT`] and never names the
/// other bots does not link them: the linker drops what nothing references.
/// An update to a bot the engine does not serve goes to the program's
/// [`Extension`](crate::Extension) alone (with no extension it is answered
/// with nothing), and [`recover_updates`](crate::outbox::recover_updates)
/// leaves such a bot's unfinished updates to a process that serves it.
///
/// ```
/// use loyalty_core::Bots;
/// use loyalty_core::domain::BotKind;
///
/// let bots = Bots::CLIENT.union(Bots::PARTNER);
/// assert!(bots.serves(BotKind::Partner));
/// assert!(!bots.serves(BotKind::Admin));
/// assert_eq!(format!("{bots:?}"), "Bots[client, partner]");
/// assert_eq!(format!("{:?}", Bots::NONE), "Bots[]");
/// ```
#[derive(Clone, Copy)]
pub struct Bots {
    pub(crate) client: Option<BotCode>,
    pub(crate) partner: Option<BotCode>,
    pub(crate) admin: Option<BotCode>,
}

impl Bots {
    /// No built-in bot: an engine that answers the REST API only, or one
    /// whose maintenance pass leaves every bot's unfinished updates to others.
    pub const NONE: Bots = Bots { client: None, partner: None, admin: None };

    /// The bots of `self` and those of `other`.
    pub const fn union(self, other: Bots) -> Bots {
        /// `a`, else `b` (`Option::or` is not `const`).
        const fn either(a: Option<BotCode>, b: Option<BotCode>) -> Option<BotCode> {
            match a {
                Some(code) => Some(code),
                None => b,
            }
        }
        Bots {
            client: either(self.client, other.client),
            partner: either(self.partner, other.partner),
            admin: either(self.admin, other.admin),
        }
    }

    /// Whether `bot` is one of these (never [`BotKind::Alerts`], which
    /// receives no updates).
    pub fn serves(self, bot: BotKind) -> bool {
        self.code(bot).is_some()
    }

    /// Whether `self` serves every bot `other` does (an engine of `self` can
    /// stand in for one of `other`).
    pub fn contains(self, other: Bots) -> bool {
        BotKind::WEBHOOK_BOTS.into_iter().all(|bot| !other.serves(bot) || self.serves(bot))
    }

    /// The code of `bot`, if served.
    pub(crate) fn code(self, bot: BotKind) -> Option<BotCode> {
        match bot {
            BotKind::Client => self.client,
            BotKind::Partner => self.partner,
            BotKind::Admin => self.admin,
            BotKind::Alerts => None,
        }
    }
}

impl std::fmt::Debug for Bots {
    /// `Bots[client, admin]`: the names of the bots served.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bots[")?;
        let served = BotKind::WEBHOOK_BOTS.into_iter().filter(|&bot| self.serves(bot));
        for (i, bot) in served.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(bot.as_str())?;
        }
        f.write_str("]")
    }
}

// The table's shape is this module's; the tests use it as `crate::bots` fills it.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_contains_agree_with_serves() {
        let both = Bots::CLIENT.union(Bots::PARTNER);
        assert!(both.serves(BotKind::Client) && both.serves(BotKind::Partner) && !both.serves(BotKind::Admin));
        assert!(both.contains(Bots::CLIENT) && both.contains(Bots::PARTNER) && both.contains(both));
        assert!(!both.contains(Bots::ADMIN) && !both.contains(Bots::ALL));
        assert!(!Bots::CLIENT.contains(both));
        assert!(Bots::ALL.contains(both) && Bots::ALL.contains(Bots::ALL));
        assert!(Bots::NONE.contains(Bots::NONE) && both.contains(Bots::NONE) && !Bots::NONE.contains(Bots::CLIENT));
        assert!(!Bots::ALL.serves(BotKind::Alerts));
    }
}
