#!/usr/bin/env node
// The browser side of the Mini App's tests: one headless Chromium, driven with playwright-core, that a test process
// (the Rust tests in loyalty-native/tests/mini_app_browser.rs and loyalty-edge/tests/browser.rs) talks to over
// stdin/stdout, one JSON object per line. The assertions and the fakes (API server, Bot API) stay in the test; this
// process only does what it is told and reports what it sees.
//
//   node driver.cjs          (NODE_PATH must reach playwright-core, jsqr and pngjs: scripts/browser.sh installs them)
//
// Environment: CHROMIUM_BIN (required), LOYALTY_E2E_SLOWMO (ms between actions, for watching a run).
//
// On start it prints {"ready":true,"browser":"<version>"}. Each request is {"id":N,"cmd":"<name>",…}; each answer
// {"id":N,"ok":true,"value":…} or {"id":N,"ok":false,"error":"…"}, in order. Commands (`testid` is a data-testid):
//
//   open {url, initData, theme, viewport, locale, now, deviceScaleFactor}
//                        a fresh browser context (no cache, no cookies) and page; Telegram's script is answered with
//                        the stub (telegram-stub.cjs) for initData/theme/viewport; anything else that is not on
//                        loopback is refused and listed in `state`. `now` (ms since the epoch) fixes the page's
//                        Date to the server's clock (timers still run)
//   waitFor {testid, state?, timeout?}     state: visible (default), hidden, attached, detached
//   waitForText {testid, text, timeout?}   until the first such element's text contains `text`
//   text {testid, nth?}   texts {testid}   count {testid}   attr {testid, name, nth?}
//   click {testid, nth?}   fill {testid, value}   select {testid, value}
//   set {testid, value}                    fill for an input or a textarea, select for a select
//   screenshot {testid?, path}             an element, or the viewport when no testid; PNG
//   decodeQr {testid}                      screenshot of the element, decoded as a QR code: its text
//   scan {text}                            the next (or the open) showScanQrPopup reads `text`
//   confirmAnswer {value}                  what showConfirm answers from now on (default true)
//   setTheme {theme}                       Telegram switches to light/dark (themeChanged)
//   mainButton   backButton                the user taps Telegram's MainButton / BackButton
//   tgCalls                                the WebApp methods the page called, in order
//   state                                  page errors, console errors, refused requests, requests made
//   eval {expr}                            the value of a JavaScript expression in the page
//   reload   close   quit
//   measureLoad {url, initData, theme, runs, cpuRate, latencyMs, downKbps, upKbps, ready, timeout}
//                        the first load, cold, N times: time from navigation start until every `ready` testid shows
//                        content, first contentful paint, and the bytes of every response (on the wire, and gzip -9
//                        of the body)
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const zlib = require('zlib');
const { chromium } = require('playwright-core');
const { PNG } = require('pngjs');
const jsQR = require('jsqr');
const { stubScript } = require('./telegram-stub.cjs');

const TELEGRAM_SCRIPT = 'https://telegram.org/js/telegram-web-app.js';

let browser = null;
let context = null;
let page = null;
let seen = freshState();

function freshState() {
    return { pageErrors: [], consoleErrors: [], cspViolations: [], refused: [], requests: [] };
}

function isLoopback(url) {
    try {
        const host = new URL(url).hostname;
        return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';
    } catch (e) {
        return false;
    }
}

const sel = (testid) => `[data-testid="${String(testid).replace(/["\\]/g, '\\$&')}"]`;

function need(value, what) {
    if (value === undefined || value === null || value === '') throw new Error(`missing ${what}`);
    return value;
}

function currentPage() {
    if (!page) throw new Error('no page: send open first');
    return page;
}

/** Answers Telegram's script with the stub and refuses whatever else would leave loopback. */
async function routeContext(ctx, options, refused) {
    // Routes match newest first: the catch-all goes in before the script's own.
    await ctx.route('**/*', (route) => {
        const url = route.request().url();
        if (isLoopback(url) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
        refused.push(url);
        return route.abort('blockedbyclient');
    });
    await ctx.route(TELEGRAM_SCRIPT, (route) =>
        route.fulfill({
            status: 200,
            contentType: 'application/javascript; charset=utf-8',
            body: stubScript(options),
        }),
    );
}

async function open(req) {
    if (context) await context.close().catch(() => {});
    seen = freshState();
    const viewport = req.viewport || { width: 390, height: 760 };
    const theme = req.theme === 'dark' ? 'dark' : 'light';
    context = await browser.newContext({
        viewport,
        deviceScaleFactor: req.deviceScaleFactor || 1,
        isMobile: true,
        hasTouch: true,
        colorScheme: theme,
        locale: req.locale || 'en-US',
        timezoneId: req.timezone || 'UTC',
        serviceWorkers: 'block',
    });
    await routeContext(context, { initData: req.initData || '', theme, viewport, platform: req.platform }, seen.refused);
    page = await context.newPage();
    if (typeof req.now === 'number') await page.clock.setFixedTime(req.now);
    page.on('pageerror', (e) => seen.pageErrors.push(String((e && e.stack) || e)));
    page.on('console', (m) => {
        if (m.type() === 'error') seen.consoleErrors.push(m.text());
    });
    // What the Content-Security-Policy blocked (a style, script, image or request), reported by the page.
    await page.exposeBinding('__cspViolation', (_source, v) => seen.cspViolations.push(v));
    await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__cspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`);
        });
    });
    page.on('requestfinished', async (r) => {
        const res = await r.response().catch(() => null);
        seen.requests.push({ method: r.method(), url: r.url(), status: res ? res.status() : 0 });
    });
    page.on('requestfailed', (r) => seen.requests.push({ method: r.method(), url: r.url(), status: 0 }));
    const res = await page.goto(need(req.url, 'url'), { waitUntil: 'load', timeout: req.timeout || 30000 });
    return { status: res ? res.status() : 0 };
}

async function waitForText(req) {
    const p = currentPage();
    await p.waitForFunction(
        ([s, text]) => {
            const el = document.querySelector(s);
            return !!el && (el.innerText || el.textContent || '').includes(text);
        },
        [sel(need(req.testid, 'testid')), String(need(req.text, 'text'))],
        { timeout: req.timeout || 15000 },
    );
    return true;
}

/** Decodes the QR code in a PNG, with a white quiet zone added around it. */
function decodePng(buffer) {
    const png = PNG.sync.read(buffer);
    const pad = Math.max(16, Math.round(Math.max(png.width, png.height) / 8));
    const w = png.width + 2 * pad;
    const h = png.height + 2 * pad;
    const data = new Uint8ClampedArray(w * h * 4).fill(255);
    for (let y = 0; y < png.height; y++) {
        for (let x = 0; x < png.width; x++) {
            const from = (y * png.width + x) * 4;
            const to = ((y + pad) * w + x + pad) * 4;
            // Flatten transparency onto white, as a phone camera would see the screen.
            const a = png.data[from + 3] / 255;
            for (let c = 0; c < 3; c++) data[to + c] = Math.round(png.data[from + c] * a + 255 * (1 - a));
            data[to + 3] = 255;
        }
    }
    const found = jsQR(data, w, h, { inversionAttempts: 'attemptBoth' });
    if (!found) throw new Error(`no QR code found in the ${png.width}×${png.height} screenshot`);
    return found.data;
}

async function screenshot(req) {
    const p = currentPage();
    const file = need(req.path, 'path');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const options = { path: file, type: 'png', animations: 'disabled', caret: 'hide' };
    if (req.testid) await p.locator(sel(req.testid)).first().screenshot(options);
    else await p.screenshot(options);
    return fs.statSync(file).size;
}

/** One cold first load under throttling; see the header. */
async function measureOnce(req) {
    const viewport = req.viewport || { width: 390, height: 760 };
    const theme = req.theme === 'dark' ? 'dark' : 'light';
    const ctx = await browser.newContext({ viewport, isMobile: true, hasTouch: true, colorScheme: theme });
    const refused = [];
    try {
        await routeContext(ctx, { initData: req.initData || '', theme, viewport }, refused);
        const ready = (req.ready || ['balance', 'card-qr']).map(sel);
        // Stamps the first moment every `ready` element shows content (text, or an svg/img/canvas inside).
        await ctx.addInitScript((selectors) => {
            window.__interactiveAt = null;
            const shown = (el) => !!el && ((el.textContent || '').trim() !== '' || !!el.querySelector('svg,img,canvas'));
            const check = () => {
                if (window.__interactiveAt === null && selectors.every((s) => shown(document.querySelector(s)))) {
                    window.__interactiveAt = performance.now();
                }
            };
            new MutationObserver(check).observe(document, {
                childList: true,
                subtree: true,
                characterData: true,
                attributes: true,
            });
        }, ready);
        const p = await ctx.newPage();
        const cdp = await ctx.newCDPSession(p);
        const responses = new Map();
        cdp.on('Network.responseReceived', (e) => {
            const h = e.response.headers || {};
            const enc = h['content-encoding'] || h['Content-Encoding'] || '';
            responses.set(e.requestId, { url: e.response.url, type: e.type, status: e.response.status, encoding: enc });
        });
        cdp.on('Network.loadingFinished', (e) => {
            const r = responses.get(e.requestId);
            if (r) r.encodedBytes = e.encodedDataLength;
        });
        await cdp.send('Network.enable');
        await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
        await cdp.send('Network.emulateNetworkConditions', {
            offline: false,
            latency: req.latencyMs,
            downloadThroughput: (req.downKbps * 1000) / 8,
            uploadThroughput: (req.upKbps * 1000) / 8,
        });
        await cdp.send('Emulation.setCPUThrottlingRate', { rate: req.cpuRate });
        await p.goto(need(req.url, 'url'), { waitUntil: 'commit', timeout: req.timeout || 60000 });
        await p.waitForFunction(() => window.__interactiveAt !== null, null, { timeout: req.timeout || 60000 });
        // Let late requests of the first load finish before counting bytes: until nothing has finished for a second
        // (at most 10 s; a long poll the page keeps open never finishes and is not counted).
        const settleUntil = Date.now() + 10000;
        let finished = -1;
        while (Date.now() < settleUntil) {
            const now = [...responses.values()].filter((r) => r.encodedBytes !== undefined).length;
            if (now === finished) break;
            finished = now;
            await p.waitForTimeout(1000);
        }
        const timing = await p.evaluate(() => {
            const paint = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
            return { interactive: window.__interactiveAt, fcp: paint ? paint.startTime : null };
        });
        const files = [];
        for (const [id, r] of responses) {
            if (r.url.startsWith('data:') || r.url === TELEGRAM_SCRIPT || r.encodedBytes === undefined) continue;
            let gzipBytes = null;
            let bodyBytes = null;
            try {
                const body = await cdp.send('Network.getResponseBody', { requestId: id });
                const buf = Buffer.from(body.body, body.base64Encoded ? 'base64' : 'utf8');
                bodyBytes = buf.length;
                gzipBytes = zlib.gzipSync(buf, { level: 9 }).length;
            } catch (e) {
                // A response without a body (204, a redirect).
            }
            const api = new URL(r.url).pathname.startsWith('/api/');
            files.push({
                url: r.url,
                kind: api ? 'api' : 'asset',
                type: r.type,
                status: r.status,
                encoding: r.encoding,
                wireBytes: r.encodedBytes || 0,
                bodyBytes,
                gzipBytes,
            });
        }
        await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 }).catch(() => {});
        return { interactiveMs: timing.interactive, fcpMs: timing.fcp, files, refused };
    } finally {
        await ctx.close().catch(() => {});
    }
}

async function measureLoad(req) {
    const runs = [];
    for (let i = 0; i < (req.runs || 1); i++) runs.push(await measureOnce(req));
    return { runs };
}

const COMMANDS = {
    open,
    async waitFor(req) {
        await currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .first()
            .waitFor({ state: req.state || 'visible', timeout: req.timeout || 15000 });
        return true;
    },
    waitForText,
    async text(req) {
        const t = await currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .nth(req.nth || 0)
            .innerText({ timeout: req.timeout || 5000 });
        return t.trim();
    },
    async texts(req) {
        return (await currentPage().locator(sel(need(req.testid, 'testid'))).allInnerTexts()).map((t) => t.trim());
    },
    async count(req) {
        return currentPage().locator(sel(need(req.testid, 'testid'))).count();
    },
    async attr(req) {
        return currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .nth(req.nth || 0)
            .getAttribute(need(req.name, 'name'), { timeout: req.timeout || 5000 });
    },
    async click(req) {
        await currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .nth(req.nth || 0)
            .click({ timeout: req.timeout || 5000 });
        return true;
    },
    async fill(req) {
        await currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .first()
            .fill(String(req.value), { timeout: req.timeout || 5000 });
        return true;
    },
    async select(req) {
        return currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .first()
            .selectOption(String(req.value), { timeout: req.timeout || 5000 });
    },
    async set(req) {
        const el = currentPage()
            .locator(sel(need(req.testid, 'testid')))
            .first();
        const tag = await el.evaluate((e) => e.tagName.toLowerCase(), null, { timeout: req.timeout || 5000 });
        if (tag === 'select') await el.selectOption(String(req.value), { timeout: req.timeout || 5000 });
        else await el.fill(String(req.value), { timeout: req.timeout || 5000 });
        return true;
    },
    screenshot,
    async decodeQr(req) {
        const el = currentPage().locator(sel(need(req.testid, 'testid'))).first();
        return decodePng(await el.screenshot({ type: 'png', animations: 'disabled' }));
    },
    async scan(req) {
        await currentPage().evaluate((t) => window.__tg.scan(t), String(need(req.text, 'text')));
        return true;
    },
    async confirmAnswer(req) {
        await currentPage().evaluate((v) => (window.__tg.confirmAnswer = v), !!req.value);
        return true;
    },
    async setTheme(req) {
        const theme = req.theme === 'dark' ? 'dark' : 'light';
        const p = currentPage();
        await p.emulateMedia({ colorScheme: theme });
        await p.evaluate((t) => window.__tg.setTheme(t), theme);
        return true;
    },
    async mainButton() {
        await currentPage().evaluate(() => window.__tg.clickMainButton());
        return true;
    },
    async backButton() {
        await currentPage().evaluate(() => window.__tg.clickBackButton());
        return true;
    },
    async tgCalls() {
        return currentPage().evaluate(() => window.__tg.calls);
    },
    async state() {
        return seen;
    },
    async eval(req) {
        return currentPage().evaluate(need(req.expr, 'expr'));
    },
    async reload() {
        await currentPage().reload({ waitUntil: 'load' });
        return true;
    },
    async close() {
        if (context) await context.close().catch(() => {});
        context = null;
        page = null;
        return true;
    },
    measureLoad,
};

function reply(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
    const executablePath = process.env.CHROMIUM_BIN;
    if (!executablePath) throw new Error('CHROMIUM_BIN is not set (eval "$(scripts/browser.sh env)")');
    browser = await chromium.launch({
        executablePath,
        headless: true,
        slowMo: Number(process.env.LOYALTY_E2E_SLOWMO || 0),
        // Root in a container has no user namespaces for the sandbox; the pages are our own, on loopback.
        args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-gpu'],
    });
    reply({ ready: true, browser: browser.version() });
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (!line.trim()) continue;
        let req;
        try {
            req = JSON.parse(line);
        } catch (e) {
            reply({ id: null, ok: false, error: `not JSON: ${e.message}` });
            continue;
        }
        if (req.cmd === 'quit') {
            reply({ id: req.id, ok: true, value: true });
            break;
        }
        const run = COMMANDS[req.cmd];
        if (!run) {
            reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
            continue;
        }
        try {
            const value = await run(req);
            reply({ id: req.id, ok: true, value: value === undefined ? null : value });
        } catch (e) {
            reply({ id: req.id, ok: false, error: String((e && e.message) || e) });
        }
    }
    await browser.close().catch(() => {});
}

main().then(
    () => process.exit(0),
    (e) => {
        process.stderr.write(`driver: ${(e && e.stack) || e}\n`);
        process.exit(1);
    },
);
