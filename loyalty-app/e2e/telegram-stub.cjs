// A stand-in for Telegram's https://telegram.org/js/telegram-web-app.js in the browser tests.
//
// `stubScript(options)` returns the JavaScript the driver serves at that URL: a `window.Telegram.WebApp` with the
// documented API (https://core.telegram.org/bots/webapps#initializing-mini-apps) that a Telegram client would give
// the page, set up from `options`:
//
//   initData      the signed query string (initDataUnsafe is parsed from it, as Telegram's script does)
//   theme         "light" or "dark": colorScheme and Telegram's themeParams for it
//   viewport      {width, height}: viewportHeight and viewportStableHeight
//   platform      Telegram's platform name ("android" unless given)
//
// What the page does with it is recorded in `window.__tg` for the tests: `calls` (every method called, with its
// arguments), `scanQueue` (texts the next QR scans will read), `confirmAnswer` (what showConfirm answers), and
// helpers the driver calls: `emit`, `scan`, `setTheme`, `clickMainButton`, `clickBackButton`.
'use strict';

/** Telegram's colours for each scheme (the keys of WebApp.themeParams). */
const THEMES = {
    light: {
        bg_color: '#ffffff',
        text_color: '#000000',
        hint_color: '#999999',
        link_color: '#2481cc',
        button_color: '#2481cc',
        button_text_color: '#ffffff',
        secondary_bg_color: '#efeff3',
        header_bg_color: '#ffffff',
        bottom_bar_bg_color: '#ffffff',
        accent_text_color: '#2481cc',
        section_bg_color: '#ffffff',
        section_header_text_color: '#6d6d72',
        section_separator_color: '#e0e0e0',
        subtitle_text_color: '#999999',
        destructive_text_color: '#ff3b30',
    },
    dark: {
        bg_color: '#212121',
        text_color: '#ffffff',
        hint_color: '#aaaaaa',
        link_color: '#8774e1',
        button_color: '#8774e1',
        button_text_color: '#ffffff',
        secondary_bg_color: '#0f0f0f',
        header_bg_color: '#212121',
        bottom_bar_bg_color: '#212121',
        accent_text_color: '#8774e1',
        section_bg_color: '#212121',
        section_header_text_color: '#aaaaaa',
        section_separator_color: '#000000',
        subtitle_text_color: '#aaaaaa',
        destructive_text_color: '#ee686f',
    },
};

/** The code that runs in the page; `__OPTIONS__` is replaced by the JSON of the options. */
function inPage(options) {
    const calls = [];
    const handlers = {};
    const record = (name, args) => calls.push({ name, args: JSON.parse(JSON.stringify(Array.from(args || []))) });

    const parseInitData = (raw) => {
        const out = {};
        if (!raw) return out;
        for (const part of raw.split('&')) {
            const at = part.indexOf('=');
            const key = decodeURIComponent(at < 0 ? part : part.slice(0, at));
            const value = at < 0 ? '' : decodeURIComponent(part.slice(at + 1).replace(/\+/g, '%20'));
            if (key === 'user' || key === 'receiver' || key === 'chat') {
                try {
                    out[key] = JSON.parse(value);
                } catch (e) {
                    out[key] = value;
                }
            } else if (key === 'auth_date' || key === 'can_send_after') {
                out[key] = Number(value);
            } else {
                out[key] = value;
            }
        }
        return out;
    };

    const emit = (event, params) => {
        for (const cb of (handlers[event] || []).slice()) {
            try {
                if (params === undefined) cb.call(WebApp);
                else cb.call(WebApp, params);
            } catch (e) {
                setTimeout(() => {
                    throw e;
                });
            }
        }
    };

    const setCssVars = () => {
        const style = document.documentElement.style;
        for (const [key, value] of Object.entries(WebApp.themeParams)) {
            style.setProperty('--tg-theme-' + key.replace(/_/g, '-'), value);
        }
        style.setProperty('--tg-color-scheme', WebApp.colorScheme);
        style.setProperty('--tg-viewport-height', WebApp.viewportHeight + 'px');
        style.setProperty('--tg-viewport-stable-height', WebApp.viewportStableHeight + 'px');
    };

    // A bottom button (MainButton / SecondaryButton): its state and the documented setters, chainable.
    const button = (name, event) => {
        const b = {
            type: name === 'MainButton' ? 'main' : 'secondary',
            text: name === 'MainButton' ? 'Continue' : 'Cancel',
            color: '',
            textColor: '',
            isVisible: false,
            isActive: true,
            isProgressVisible: false,
            hasShineEffect: false,
            position: 'left',
        };
        const method = (m, fn) => {
            b[m] = function () {
                record(name + '.' + m, arguments);
                if (fn) fn.apply(b, arguments);
                return b;
            };
        };
        method('setText', (t) => (b.text = String(t)));
        method('onClick', (cb) => WebApp.onEvent(event, cb));
        method('offClick', (cb) => WebApp.offEvent(event, cb));
        method('show', () => (b.isVisible = true));
        method('hide', () => (b.isVisible = false));
        method('enable', () => (b.isActive = true));
        method('disable', () => (b.isActive = false));
        method('showProgress', () => (b.isProgressVisible = true));
        method('hideProgress', () => (b.isProgressVisible = false));
        method('setParams', (p) => {
            p = p || {};
            if ('text' in p) b.text = String(p.text);
            if ('color' in p) b.color = p.color;
            if ('text_color' in p) b.textColor = p.text_color;
            if ('is_visible' in p) b.isVisible = !!p.is_visible;
            if ('is_active' in p) b.isActive = !!p.is_active;
            if ('has_shine_effect' in p) b.hasShineEffect = !!p.has_shine_effect;
            if ('position' in p) b.position = p.position;
        });
        return b;
    };

    const backButton = { isVisible: false };
    for (const [m, fn] of Object.entries({
        onClick: (cb) => WebApp.onEvent('backButtonClicked', cb),
        offClick: (cb) => WebApp.offEvent('backButtonClicked', cb),
        show: () => (backButton.isVisible = true),
        hide: () => (backButton.isVisible = false),
    })) {
        backButton[m] = function () {
            record('BackButton.' + m, arguments);
            fn.apply(backButton, arguments);
            return backButton;
        };
    }
    const settingsButton = { isVisible: false };
    for (const m of ['onClick', 'offClick', 'show', 'hide']) {
        settingsButton[m] = function () {
            record('SettingsButton.' + m, arguments);
            if (m === 'show') settingsButton.isVisible = true;
            if (m === 'hide') settingsButton.isVisible = false;
            return settingsButton;
        };
    }

    const haptic = {};
    for (const m of ['impactOccurred', 'notificationOccurred', 'selectionChanged']) {
        haptic[m] = function () {
            record('HapticFeedback.' + m, arguments);
            return haptic;
        };
    }

    const stub = {
        calls,
        scanQueue: [],
        scanOpen: false,
        scanCallback: null,
        confirmAnswer: true,
        emit,
        deliverScan() {
            while (stub.scanOpen && stub.scanQueue.length) {
                const data = stub.scanQueue.shift();
                emit('qrTextReceived', { data });
                let close = false;
                if (stub.scanCallback) {
                    try {
                        close = stub.scanCallback(data) === true;
                    } catch (e) {
                        setTimeout(() => {
                            throw e;
                        });
                    }
                }
                if (close) stub.closeScan();
            }
        },
        scan(text) {
            stub.scanQueue.push(text);
            setTimeout(stub.deliverScan, 0);
        },
        closeScan() {
            if (!stub.scanOpen) return;
            stub.scanOpen = false;
            stub.scanCallback = null;
            emit('scanQrPopupClosed');
        },
        setTheme(theme) {
            WebApp.colorScheme = theme;
            WebApp.themeParams = Object.assign({}, options.themes[theme]);
            setCssVars();
            emit('themeChanged');
        },
        clickMainButton() {
            emit('mainButtonClicked');
        },
        clickBackButton() {
            emit('backButtonClicked');
        },
    };

    const noop = (name) =>
        function () {
            record(name, arguments);
        };
    const unsafe = parseInitData(options.initData);
    const WebApp = {
        initData: options.initData || '',
        initDataUnsafe: unsafe,
        version: '8.0',
        platform: options.platform || 'android',
        colorScheme: options.theme,
        themeParams: Object.assign({}, options.themes[options.theme]),
        isActive: true,
        isExpanded: false,
        viewportHeight: options.viewport.height,
        viewportStableHeight: options.viewport.height,
        headerColor: options.themes[options.theme].header_bg_color,
        backgroundColor: options.themes[options.theme].bg_color,
        bottomBarColor: options.themes[options.theme].bottom_bar_bg_color,
        isClosingConfirmationEnabled: false,
        isVerticalSwipesEnabled: true,
        isFullscreen: false,
        isOrientationLocked: false,
        safeAreaInset: { top: 0, bottom: 0, left: 0, right: 0 },
        contentSafeAreaInset: { top: 0, bottom: 0, left: 0, right: 0 },
        MainButton: null,
        SecondaryButton: null,
        BackButton: backButton,
        SettingsButton: settingsButton,
        HapticFeedback: haptic,
        isVersionAtLeast(v) {
            record('isVersionAtLeast', arguments);
            const a = String(v).split('.').map(Number);
            const b = WebApp.version.split('.').map(Number);
            for (let i = 0; i < Math.max(a.length, b.length); i++) {
                const x = b[i] || 0;
                const y = a[i] || 0;
                if (x !== y) return x > y;
            }
            return true;
        },
        onEvent(event, cb) {
            record('onEvent', [event]);
            (handlers[event] = handlers[event] || []).push(cb);
        },
        offEvent(event, cb) {
            record('offEvent', [event]);
            handlers[event] = (handlers[event] || []).filter((h) => h !== cb);
        },
        ready: noop('ready'),
        expand() {
            record('expand', arguments);
            if (!WebApp.isExpanded) {
                WebApp.isExpanded = true;
                emit('viewportChanged', { isStateStable: true });
            }
        },
        close: noop('close'),
        sendData: noop('sendData'),
        openLink: noop('openLink'),
        openTelegramLink: noop('openTelegramLink'),
        setHeaderColor(c) {
            record('setHeaderColor', arguments);
            WebApp.headerColor = c;
        },
        setBackgroundColor(c) {
            record('setBackgroundColor', arguments);
            WebApp.backgroundColor = c;
        },
        setBottomBarColor(c) {
            record('setBottomBarColor', arguments);
            WebApp.bottomBarColor = c;
        },
        enableClosingConfirmation: noop('enableClosingConfirmation'),
        disableClosingConfirmation: noop('disableClosingConfirmation'),
        enableVerticalSwipes: noop('enableVerticalSwipes'),
        disableVerticalSwipes: noop('disableVerticalSwipes'),
        showAlert(message, cb) {
            record('showAlert', [message]);
            if (cb) setTimeout(cb, 0);
        },
        showConfirm(message, cb) {
            record('showConfirm', [message]);
            const answer = !!stub.confirmAnswer;
            if (cb) setTimeout(() => cb(answer), 0);
        },
        showPopup(params, cb) {
            record('showPopup', [params]);
            const first = params && params.buttons && params.buttons[0];
            if (cb) setTimeout(() => cb(first ? first.id || '' : ''), 0);
        },
        showScanQrPopup(params, cb) {
            record('showScanQrPopup', [params || {}]);
            stub.scanOpen = true;
            stub.scanCallback = cb || null;
            setTimeout(stub.deliverScan, 0);
        },
        closeScanQrPopup() {
            record('closeScanQrPopup', arguments);
            stub.closeScan();
        },
    };
    WebApp.MainButton = button('MainButton', 'mainButtonClicked');
    WebApp.SecondaryButton = button('SecondaryButton', 'secondaryButtonClicked');
    window.Telegram = Object.assign(window.Telegram || {}, { WebApp });
    window.__tg = stub;
    setCssVars();
}

/**
 * The stub's JavaScript for `options` ({initData, theme, viewport, platform}).
 * @returns {string}
 */
function stubScript(options) {
    const theme = options.theme === 'dark' ? 'dark' : 'light';
    const full = {
        initData: options.initData || '',
        theme,
        themes: THEMES,
        viewport: options.viewport || { width: 390, height: 760 },
        platform: options.platform || 'android',
    };
    return `(${inPage.toString()})(${JSON.stringify(full)});\n`;
}

module.exports = { stubScript, THEMES };
