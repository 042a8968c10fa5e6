// Browser tests of the built UI (ui/dist) with the shell mocked: Debian's Chromium
// driven by playwright-core. Saves screenshots to ui/test-results/.
import { AxeBuilder } from '@axe-core/playwright';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const ui = join(here, '..', '..');
const shots = join(ui, 'test-results');
mkdirSync(shots, { recursive: true });
const port = 4173 + Math.floor(Math.random() * 1000);
const server = spawn('npx', ['vite', 'preview', '--port', String(port), '--strictPort'], { cwd: ui, stdio: 'ignore' });

const results = [];
const audited = new Set();
async function test(name, fn, page) {
  try {
    await fn(page);
    results.push([name, true]);
    console.log(`  ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`  FAIL ${name}: ${e.message}`);
    await page.screenshot({ path: join(shots, `failed-${name.replace(/\W+/g, '-')}.png`) }).catch(() => {});
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

let browser;
try {
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  for (const scheme of ['light', 'dark']) {
    // A context of its own (axe-core needs one), per colour scheme.
    const context = await browser.newContext({ viewport: { width: 1040, height: 720 }, colorScheme: scheme });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    await page.addInitScript({ content: readFileSync(join(here, 'fake-backend.js'), 'utf8') });
    await page.goto(`http://127.0.0.1:${port}/`);
    const tag = (n) => join(shots, `${scheme}-${n}.png`);
    // Every screen that is photographed is also checked by axe-core: no serious or
    // critical accessibility violation, in either colour scheme.
    const shot = async (p, n) => {
      await p.screenshot({ path: tag(n) });
      const { violations } = await new AxeBuilder({ page: p }).analyze();
      const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert(bad.length === 0, `axe on ${n}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((x) => x.target.join(' ')).join(', ')}`).join('; ')}`);
      audited.add(n);
    };

    await test(`${scheme}: empty state offers the demo`, async (p) => {
      await p.getByText('No downloads yet').waitFor();
      await shot(p, '1-empty');
      await p.getByRole('button', { name: 'Try a demo package' }).click();
      await p.getByRole('heading', { name: 'Inbound demo: Coastline rushes' }).waitFor();
    }, page);

    await test(`${scheme}: live progress, rate and ETA`, async (p) => {
      await p.evaluate(() => window.__fake.progress('d1', 0.42, 31457280));
      await p.getByText('30.0 MB/s').first().waitFor();
      const now = await p.getByRole('progressbar').first().getAttribute('aria-valuenow');
      assert(now === '42', `progress bar at ${now}`);
      assert(await p.getByText('↓ 30.0 MB/s').isVisible(), 'total rate in the header');
      assert(await p.getByText('8 connections').first().isVisible(), 'connections in use on the card');
      // What holds it back, when the engine can tell, and only while it does.
      await p.evaluate(() => window.__fake.progress('d1', 0.43, 1048576, 'disk_slow'));
      await p.getByText('Slowed by the disk').waitFor();
      await shot(p, '2c-held-back');
      await p.evaluate(() => window.__fake.progress('d1', 0.44, 1048576, 'storage_busy'));
      await p.getByText('MASV storage is limiting connections').waitFor();
      // Downloaded again: the look at the files already there says how far it is.
      await p.evaluate(() => window.__fake.progress('d1', 0.45, 0, null, { files_done: 1, files: 3, bytes_done: 40, bytes: 100 }));
      await p.getByText('Checking the files already here: 1 of 3 (40%)').waitFor();
      await p.evaluate(() => window.__fake.progress('d1', 0.45, 31457280));
      await p.getByText('MASV storage is limiting connections').waitFor({ state: 'detached' });
      await p.getByRole('button', { name: /Show files of/ }).first().click();
      await p.getByText('A001_C002.mov').waitFor();
      assert(await p.getByText('Virus – not downloaded').isVisible(), 'virus badge in the file list');
      // Files are grouped under their folders, which close and open (by keyboard too).
      const day1 = p.getByRole('button', { name: 'Day 1/' });
      assert((await day1.getAttribute('aria-expanded')) === 'true', 'folders start open');
      await day1.click();
      await p.getByText('A001_C002.mov').waitFor({ state: 'detached' });
      assert(await p.getByText('of 2 files done').first().isVisible(), 'a closed folder sums its files');
      await day1.press('Enter');
      await p.getByText('A001_C002.mov').waitFor();
      // The speed graphs fill from the progress events, a sample a second: the whole
      // app's in the header, the package's in its card; a faster second shows as the peak.
      await p.getByRole('img', { name: /^All downloads: now 30\.0 MB\/s/ }).waitFor();
      await p.evaluate(() => window.__fake.progress('d1', 0.5, 62914560));
      await p.getByRole('img', { name: /^Speed of Inbound demo: Coastline rushes: now 60\.0 MB\/s, peak 60\.0 MB\/s/ }).waitFor();
      await p.evaluate(() => window.__fake.progress('d1', 0.55, 31457280));
      await p.getByRole('img', { name: /^All downloads: now 30\.0 MB\/s, peak 60\.0 MB\/s/ }).waitFor();
      const points = await p.locator('svg.speed polyline').first().getAttribute('points');
      assert(points.split(' ').length >= 3, `graph points: ${points}`);
      await shot(p, '2-downloading');
    }, page);

    await test(`${scheme}: an outage waits with a countdown, then carries on`, async (p) => {
      await p.evaluate(() => window.__fake.waiting('d1', 40));
      await p.getByText(/Waiting for network — next try in (40|39) s/).waitFor();
      await p.getByText(/Waiting for network — next try in 3\d s/).waitFor();
      assert(await p.locator('.status .state').first().textContent() === 'Waiting', 'waiting, neither "Downloading" nor failed');
      await shot(p, '2b-waiting');
      await p.evaluate(() => window.__fake.waiting('d1', null));
      await p.getByText(/Waiting for network/).waitFor({ state: 'detached' });
      await p.getByText('Downloading', { exact: true }).waitFor();
    }, page);

    await test(`${scheme}: MASV down is told apart from the network, with a live countdown`, async (p) => {
      await p.evaluate(() => window.__fake.waiting('d1', 3, 'masv'));
      await p.getByText(/^MASV cannot be reached — next try in [23] s$/).waitFor();
      assert(!(await p.getByText(/Waiting for network/).count()), 'the network is not blamed');
      await p.getByText('MASV cannot be reached — next try in 1 s').waitFor();
      await shot(p, '2c-masv-down');
      // Its time has come: the try under way, not a frozen "retrying now".
      await p.getByText('MASV cannot be reached — trying again now').waitFor();
      // The try failed: the next one, further away, counts down again.
      await p.evaluate(() => window.__fake.waiting('d1', 12, 'masv'));
      await p.getByText(/^MASV cannot be reached — next try in 1[12] s$/).waitFor();
      await p.evaluate(() => window.__fake.waiting('d1', null));
      await p.getByText(/MASV cannot be reached/).waitFor({ state: 'detached' });
    }, page);

    await test(`${scheme}: the package's expiry is on its card, marked on its last day`, async (p) => {
      await p.evaluate(() => window.__fake.expiresIn('d1', 9 * 86400 + 600));
      const expiry = p.locator('.card .expiry').first();
      await p.getByText('· expires in 9 days').waitFor();
      assert(!(await expiry.evaluate((e) => e.classList.contains('soon'))), 'days left: not marked');
      // The sender shortened it, or the day came: the last day stands out.
      await p.evaluate(() => window.__fake.expiresIn('d1', 5 * 3600 + 600));
      await p.getByText('· expires in 5 h').waitFor();
      assert(await expiry.evaluate((e) => e.classList.contains('soon')), 'the last day is marked');
      assert(/^Expires .+: MASV deletes the package then/.test(await expiry.getAttribute('title')), 'the moment itself in the tooltip');
      await shot(p, '2f-expires-soon');
      await p.evaluate(() => window.__fake.expiresIn('d1', 9 * 86400));
    }, page);

    await test(`${scheme}: pause and resume`, async (p) => {
      await p.getByRole('button', { name: 'Pause' }).click();
      await p.getByText('Paused', { exact: true }).waitFor();
      await p.getByRole('button', { name: 'Resume' }).click();
      await p.getByText('Downloading', { exact: true }).waitFor();
    }, page);

    await test(`${scheme}: password asked only when needed`, async (p) => {
      const input = p.getByLabel('MASV link');
      await input.fill('https://get.massive.app/locked?secret=abc');
      await p.getByRole('button', { name: 'Download', exact: true }).click();
      await p.getByRole('heading', { name: 'Password needed' }).waitFor();
      await p.getByLabel('Password', { exact: true }).fill('nope');
      await p.keyboard.press('Enter');
      await p.getByText('Wrong password. Check it with the sender.').waitFor();
      await shot(p, '3-password');
      await p.getByLabel('Password', { exact: true }).fill('letmein');
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Locked delivery' }).waitFor();
      assert(!(await p.getByRole('heading', { name: 'Password needed' }).isVisible()), 'dialog closed');
      const calls = await p.evaluate(() => window.__fake.state.calls.filter((c) => c === 'add_link').length);
      assert(calls === 3, `add_link called ${calls} times`);
      // A link opened from outside waits in the shell for its password; dismissing the
      // prompt makes the shell forget it (it carries the link's secret).
      await p.evaluate(() => window.__fake.emit('incoming-link', { type: 'needs_password', token: 7, wrong: false }));
      await p.getByRole('heading', { name: 'Password needed' }).waitFor();
      await p.getByRole('button', { name: 'Cancel' }).click();
      await p.waitForFunction(() => window.__fake.state.dropped.includes(7));
    }, page);

    await test(`${scheme}: every action answers: a paste that holds no link, a folder nothing opens`, async (p) => {
      // Text that is not a link, pasted on the window: said why, nothing added.
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      await p.evaluate(() => {
        const data = new DataTransfer();
        data.setData('text/plain', 'see you at the grade tomorrow');
        document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
      });
      await p.getByRole('status').filter({ hasText: 'That holds no MASV link.' }).waitFor();
      assert((await p.evaluate(() => window.__fake.state.downloads.length)) === before, 'nothing added');
      // No file manager: the folder's path, and a way to copy it.
      await p.evaluate(() => (window.__fake.state.noFileManager = true));
      await p.locator('#card-d1').getByRole('button', { name: 'Open folder' }).click();
      const folder = await p.evaluate(() => window.__fake.state.downloads.find((d) => d.id === 'd1').dst_folder);
      const fallback = p.getByRole('alert').filter({ hasText: 'No program on this computer opened it.' });
      await fallback.getByText(folder, { exact: false }).waitFor();
      await shot(p, '13-nothing-opened-the-folder');
      await fallback.getByRole('button', { name: 'Copy path' }).click();
      await fallback.getByText('Path copied').waitFor();
      assert((await p.evaluate(() => window.__fake.state.clipboard)) === folder, 'the path is copied');
      await p.evaluate(() => (window.__fake.state.noFileManager = false));
      await fallback.getByRole('button', { name: 'Dismiss' }).click();
      await fallback.waitFor({ state: 'detached' });
    }, page);

    await test(`${scheme}: closed with downloads running and no tray, it asks`, async (p) => {
      await p.evaluate(() => window.__fake.emit('close-asked', { running: 2 }));
      const dialog = p.getByRole('alertdialog', { name: '2 downloads are running' });
      await dialog.getByText('This desktop shows no tray icon to bring Inbound back from.', { exact: false }).waitFor();
      await shot(p, '12-close-without-tray');
      // Escape keeps the window: nothing decided.
      await p.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await p.evaluate(() => window.__fake.emit('close-asked', { running: 1 }));
      await p.getByRole('alertdialog', { name: '1 download is running' }).getByRole('button', { name: 'Keep it running in the background' }).click();
      await p.waitForFunction(() => window.__fake.state.calls.includes('keep_in_background'));
      await p.evaluate(() => window.__fake.emit('close-asked', { running: 1 }));
      await p.getByRole('button', { name: 'Quit and resume later' }).click();
      await p.waitForFunction(() => window.__fake.state.calls.includes('quit_app'));
    }, page);

    await test(`${scheme}: a failed "Verify again" says what changed and offers Repair`, async (p) => {
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      await p.getByLabel('MASV link').fill('https://get.massive.app/edited?secret=x');
      await p.keyboard.press('Enter');
      await p.waitForFunction((n) => window.__fake.state.downloads.length > n, before);
      const id = await p.evaluate(() => window.__fake.state.downloads.at(-1).id);
      await p.evaluate((i) => window.__fake.complete(i), id);
      const card = p.locator(`#card-${id}`);
      await card.getByText('4 files · xxh128 · ASC MHL manifest').waitFor();
      await card.getByRole('button', { name: /^Show files of/ }).click();
      // Someone edits a clip after it arrived: "Verify again" says so where it said
      // Verified, the clip's row stops saying Verified, and Repair fetches what differs.
      await p.evaluate(() => (window.__fake.state.tampered = ['Coastline/Day 1/A001_C002.mov']));
      await card.getByRole('button', { name: 'Verify again' }).click();
      await card.locator('.badge', { hasText: 'Changed since delivery' }).waitFor();
      await card.getByText('1 file: Coastline/Day 1/A001_C002.mov').waitFor();
      assert((await card.getByText('Verified', { exact: true }).count()) === 0, 'no green Verified badge beside a change');
      const clip = card.locator('[role=listitem]').filter({ hasText: 'A001_C002.mov' });
      assert((await clip.locator('.fstate').textContent()) === 'Changed since delivery', 'the changed row is not "Verified"');
      await shot(p, '4c-changed-since-delivery');
      await card.getByRole('button', { name: 'Repair' }).click();
      await p.waitForFunction((i) => window.__fake.state.repaired === i, id);
      await p.evaluate(() => (window.__fake.state.tampered = []));
      const repaired = await p.evaluate(() => window.__fake.state.downloads.at(-1).id);
      await p.locator(`#card-${repaired}`).waitFor();
      await card.waitFor({ state: 'detached' });
      await p.evaluate((i) => window.__fake.remove(i), repaired);
    }, page);

    await test(`${scheme}: a package pasted again says it is already downloaded, and offers what can be done`, async (p) => {
      const paste = async () => {
        await p.getByLabel('MASV link').fill('https://get.massive.app/seen?secret=hush-seen');
        await p.keyboard.press('Enter');
      };
      await paste();
      await p.getByRole('heading', { name: 'Seen delivery' }).waitFor();
      const first = await p.evaluate(() => window.__fake.state.downloads.at(-1).id);
      await p.evaluate((id) => window.__fake.complete(id), first);
      // Pasted again: asked, not a silent repair nor a second copy.
      await paste();
      const dialog = p.getByRole('dialog', { name: 'Already downloaded' });
      await dialog.getByText('“Seen delivery” is already downloaded into /home/user/Downloads/MASV/Seen delivery.').waitFor();
      assert((await p.getByRole('heading', { name: 'Seen delivery' }).count()) === 1, 'nothing added while asking');
      assert(!(await p.content()).includes('hush-seen'), 'the secret stays in the shell');
      // Said before either is chosen: a sender's download limit counts another opening.
      await dialog.getByText(/MASV counts that as one more/).waitFor();
      await shot(p, '2d-already-downloaded');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      assert((await p.getByRole('heading', { name: 'Seen delivery' }).count()) === 1, 'cancel adds nothing');
      // Check it again: the download it is, checked in its folder.
      await paste();
      await dialog.getByRole('button', { name: 'Check it again' }).click();
      await p.waitForFunction((id) => window.__fake.state.repaired === id, first);
      await dialog.waitFor({ state: 'detached' });
      // Under way now (being checked): said so, and it can still be had as a copy.
      await paste();
      const under = p.getByRole('dialog', { name: 'Already downloading' });
      await under.getByText('“Seen delivery” is already being downloaded into', { exact: false }).waitFor();
      assert((await under.getByRole('button', { name: 'Check it again' }).count()) === 0, 'nothing to check while it downloads');
      await under.getByRole('button', { name: 'Download again as a copy' }).click();
      await p.waitForFunction(() => window.__fake.state.again === 'copy');
      await p.getByRole('heading', { name: 'Seen delivery' }).nth(1).waitFor();
      // Two cards of one package told apart: each names its folder.
      await p.getByText('in “Seen delivery (1)”', { exact: false }).waitFor();
      await shot(p, '2e-copies-told-apart');
      for (const d of await p.evaluate(() => window.__fake.state.downloads.filter((x) => x.name === 'Seen delivery').map((x) => x.id))) {
        await p.evaluate((id) => window.__fake.remove(id), d);
      }
    }, page);

    await test(`${scheme}: a link pasted while MASV is out of reach waits as a download, then is listed`, async (p) => {
      await p.getByLabel('MASV link').fill('https://get.massive.app/offline1?secret=hush-offline');
      await p.keyboard.press('Enter');
      const waitingCard = p.getByRole('article', { name: 'Link offline1' });
      await waitingCard.getByRole('heading', { name: 'Waiting for MASV to list this link' }).waitFor();
      await waitingCard.getByText('Link offline1 · its name and files appear as soon as MASV answers').waitFor();
      await waitingCard.getByText(/Waiting for network — next try in/).waitFor();
      assert((await p.getByLabel('MASV link').inputValue()) === '', 'the input is cleared: nothing to paste again');
      assert(!(await p.content()).includes('hush-offline'), 'the secret stays in the shell');
      assert((await p.getByRole('alert').count()) === 0, 'said once, on the card');
      await shot(p, '2b-waiting-for-masv');
      // MASV answers ("Try now" asks at once): the same card becomes the package, files and all.
      const id = await p.evaluate(() => window.__fake.state.downloads.find((d) => d.name === 'Link offline1').id);
      const card = p.getByRole('article', { name: 'Link offline1' });
      await card.getByRole('button', { name: 'Try now' }).click();
      await p.waitForFunction(() => window.__fake.state.calls.includes('retry_waiting_links'));
      await p.evaluate((i) => window.__fake.listed(i), id);
      await p.getByRole('heading', { name: 'Offline delivery' }).waitFor();
      assert((await p.getByRole('article', { name: 'Link offline1' }).count()) === 0, 'one card, not two');
      assert((await p.getByRole('heading', { name: 'Waiting for MASV to list this link' }).count()) === 0, 'listed: named');
    }, page);

    await test(`${scheme}: a link from a web page while MASV is out of reach is kept, then asked about`, async (p) => {
      await p.evaluate(() => window.__fake.incomingOffline('https://get.massive.app/offline2?secret=hush-web'));
      const section = p.getByRole('region', { name: 'Links waiting for MASV' });
      await section.getByText('MASV cannot be reached (could not connect to the server) — next try in', { exact: false }).waitFor();
      assert(!(await p.content()).includes('hush-web'), 'the secret stays in the shell');
      // Given up on: forgotten.
      await p.evaluate(() => window.__fake.incomingOffline('https://get.massive.app/offline3?secret=x'));
      await p.getByRole('button', { name: 'Forget https://get.massive.app/offline3?secret=***' }).click();
      await p.waitForFunction(() => window.__fake.state.waiting.length === 1);
      // MASV answers: the kept link is shown for the person to say yes to, as any link from outside.
      await section.getByRole('button', { name: 'Try now' }).click();
      await p.getByRole('heading', { name: 'Download this package?' }).waitFor();
      await section.waitFor({ state: 'detached' });
      await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
      await p.getByRole('heading', { name: 'Download this package?' }).waitFor({ state: 'detached' });
    }, page);

    await test(`${scheme}: a link from a web page asks before it starts`, async (p) => {
      const preview = { name: 'Day 2 rushes', package_id: 'pkg-web', sender_email: 'dit@set.example', file_count: 412,
        total_bytes: 180 * 2 ** 30, sizes_complete: true, withheld: 1 };
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      await p.evaluate((pv) => window.__fake.incoming(11, pv), preview);
      await p.getByRole('heading', { name: 'Download this package?' }).waitFor();
      const dialog = p.getByRole('dialog');
      for (const text of ['Day 2 rushes', 'dit@set.example', '180 GB in 412 files', 'flagged 1 file']) {
        assert(await dialog.getByText(text, { exact: false }).first().isVisible(), `${text} shown`);
      }
      // Focus starts on Cancel, so Enter out of habit starts nothing.
      assert(await p.getByRole('button', { name: 'Cancel' }).evaluate((b) => b === document.activeElement), 'Cancel focused');
      // The same link arriving again asks once.
      await p.evaluate((pv) => window.__fake.incoming(11, pv), preview);
      assert((await p.getByRole('dialog').count()) === 1, 'one dialog');
      await shot(p, '3b-confirm-link');
      assert((await p.evaluate(() => window.__fake.state.downloads.length)) === before, 'nothing started before the answer');
      // Declined: nothing starts and the shell forgets the link.
      await p.keyboard.press('Escape');
      await p.waitForFunction(() => window.__fake.state.dropped.includes(11));
      assert((await p.evaluate(() => window.__fake.state.downloads.length)) === before, 'nothing started after Cancel');
      // Accepted, trusting the sender: it starts, and Settings lists the sender.
      await p.evaluate((pv) => window.__fake.incoming(12, pv), preview);
      await p.getByLabel('Always download links from dit@set.example without asking').check();
      await p.getByRole('dialog').getByRole('button', { name: 'Download' }).click();
      await p.getByRole('heading', { name: 'Day 2 rushes' }).waitFor();
      await p.getByRole('button', { name: 'Settings' }).click();
      await p.getByRole('button', { name: 'Ask again for links from dit@set.example' }).waitFor();
      await shot(p, '3c-trusted-senders');
      await p.getByRole('button', { name: 'Ask again for links from dit@set.example' }).click();
      await p.getByRole('button', { name: 'Save' }).click();
      await p.waitForFunction(() => window.__fake.state.settings.trusted_senders.length === 0);
    }, page);

    await test(`${scheme}: a copied MASV link is offered when clipboard capture is on`, async (p) => {
      // Off until the person turns it on, and explained where it is turned on.
      await p.getByRole('button', { name: 'Settings' }).click();
      const capture = p.getByLabel('Offer MASV links I copy anywhere');
      assert(!(await capture.isChecked()), 'clipboard capture is off by default');
      await p.getByText(/looks only for MASV links in what you copy and keeps nothing else/).waitFor();
      await capture.check();
      await p.getByRole('button', { name: 'Save' }).click();
      await p.waitForFunction(() => window.__fake.state.settings.clipboard_capture === true);
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      // A mail copied whole: the window asks about the package its link points to.
      await p.evaluate(() => window.__fake.copy('Hi! Day 2 is up: https://get.massive.app/day2?secret=s3cr3t. Thanks, Ana'));
      await p.getByText('You copied a MASV link. It points to:').waitFor();
      const dialog = p.getByRole('dialog');
      for (const text of ['Copied day2', 'dit@set.example', '3.0 GB in 2 files']) {
        assert(await dialog.getByText(text, { exact: false }).first().isVisible(), `${text} shown`);
      }
      // A copy is not a click: there is no "trust this sender" here, and Enter out of
      // habit starts nothing.
      assert((await dialog.getByRole('checkbox').count()) === 0, 'no trust checkbox for a copied link');
      assert(await p.getByRole('button', { name: 'Not now' }).evaluate((b) => b === document.activeElement), 'Not now focused');
      await shot(p, '3d-copied-link');
      await p.getByRole('button', { name: 'Not now' }).click();
      await p.waitForFunction(() => window.__fake.state.dropped.some((t) => t >= 500));
      assert((await p.evaluate(() => window.__fake.state.downloads.length)) === before, 'nothing started');
      // Another copy, accepted: it starts.
      await p.evaluate(() => window.__fake.copy('https://get.massive.app/day3?secret=x'));
      await p.getByRole('dialog').getByRole('button', { name: 'Download' }).click();
      await p.getByRole('heading', { name: 'Copied day3' }).waitFor();
      // Where the desktop cannot be watched, Settings says why.
      await p.evaluate(() => { window.__fake.state.clipboardProblem = 'there is no X11 display to watch'; });
      await p.getByRole('button', { name: 'Settings' }).click();
      await p.getByText('Not available here: there is no X11 display to watch.').waitFor();
      await p.getByLabel('Offer MASV links I copy anywhere').uncheck();
      await p.getByRole('button', { name: 'Save' }).click();
      await p.waitForFunction(() => window.__fake.state.settings.clipboard_capture === false);
      await p.evaluate(() => { window.__fake.state.clipboardProblem = null; });
    }, page);

    await test(`${scheme}: 10,000 files stay fluid`, async (p) => {
      await p.getByLabel('MASV link').fill('https://get.massive.app/many?secret=x');
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Ten thousand frames' }).waitFor();
      await p.getByRole('button', { name: 'Show files of Ten thousand frames' }).click();
      await p.getByText('file-00000.dat').waitFor();
      const rows = await p.getByRole('listitem').count();
      assert(rows < 60, `${rows} rows rendered for 10,000 files`);
      const started = Date.now();
      await p.locator('.files').first().evaluate((el) => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); });
      await p.getByText('file-09999.dat').waitFor();
      console.log(`       scrolled to the 10,000th file in ${Date.now() - started} ms`);
      // The list takes the window's height, and a search finds a file among 10,000.
      const many = p.locator('article[aria-label="Ten thousand frames"]');
      const box = await many.locator('.files').evaluate((el) => el.getBoundingClientRect().height);
      assert(box >= 480, `the file list is ${box} px high in a 720 px window`);
      await p.getByLabel('Find a file in Ten thousand frames').fill('FILE-04242');
      await p.getByText('file-04242.dat').waitFor();
      assert((await many.locator('.files [role=listitem]').count()) === 1, 'one file found');
      await p.getByLabel('Find a file in Ten thousand frames').fill('');
      // Nothing has moved yet: no graph whose caption would name no speed.
      for (const caption of await p.locator('figcaption').allInnerTexts()) {
        assert(!/(now|peak)\s*(·|$)/.test(caption.trim()), `a caption with no value: ${caption}`);
      }
      await shot(p, '4-many-files');
    }, page);

    await test(`${scheme}: Settings is a real dialog: focus inside, kept there, Escape closes, focus returns`, async (p) => {
      await p.getByRole('button', { name: 'Settings' }).click();
      const dialog = p.getByRole('dialog');
      await dialog.waitFor();
      const inside = () => p.evaluate(() => !!document.activeElement?.closest('[role=dialog]'));
      assert(await inside(), 'focus moved into Settings');
      for (let i = 0; i < 60; i++) await p.keyboard.press('Tab');
      assert(await inside(), 'Tab stays inside Settings');
      for (let i = 0; i < 5; i++) await p.keyboard.press('Shift+Tab');
      assert(await inside(), 'Shift+Tab stays inside Settings');
      await p.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert(await p.getByRole('button', { name: 'Settings' }).evaluate((b) => b === document.activeElement), 'focus back on Settings');
    }, page);

    await test(`${scheme}: one download folder, changed on the main screen and kept in Settings`, async (p) => {
      const before = await p.evaluate(() => window.__fake.state.settings.destination);
      await p.evaluate(() => { window.__fake.state.pickedFolder = '/media/shuttle/Rushes'; });
      await p.getByRole('button', { name: 'Change…' }).click();
      await p.getByText('/media/shuttle/Rushes', { exact: true }).waitFor();
      await p.waitForFunction(() => window.__fake.state.settings.destination === '/media/shuttle/Rushes');
      await p.getByRole('button', { name: 'Settings' }).click();
      const shown = await p.getByLabel('Download folder').inputValue();
      assert(shown === '/media/shuttle/Rushes', `Settings shows ${shown}`);
      await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
      // Back as it was for the tests after this one.
      await p.evaluate((folder) => { window.__fake.state.pickedFolder = folder; }, before);
      await p.getByRole('button', { name: 'Change…' }).click();
      await p.waitForFunction((folder) => window.__fake.state.settings.destination === folder, before);
      await p.evaluate(() => { window.__fake.state.pickedFolder = null; });
    }, page);

    await test(`${scheme}: files are listed as they are saved, with the sender's name beside`, async (p) => {
      await p.getByLabel('MASV link').fill('https://get.massive.app/twin?secret=x');
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Coastline twin' }).waitFor();
      await p.getByRole('button', { name: 'Show files of Coastline twin' }).click();
      const card = p.locator('article[aria-label="Coastline twin"]');
      // The twin is the ` (1)` on disk: the one to open from the folder.
      await card.getByText('A001_C002 (1).mov').waitFor();
      assert((await card.getByText('A001_C002.mov', { exact: true }).count()) === 0, 'the name it is not saved under is not shown as its name');
      await card.getByText(/Sent as “Day 1\/A001_C002.mov”: a file of this name was already there/).first().waitFor({ state: 'attached' });
      // A name that tried to leave the folder sits in it, with no `..` folder shown.
      await card.getByText('notes.txt', { exact: true }).waitFor();
      const folders = await card.locator('.folder-toggle').allInnerTexts();
      assert(folders.every((f) => !f.includes('..')), `no .. folder: ${folders.join(', ')}`);
      await card.getByText(/renamed to be safe on this computer/).first().waitFor({ state: 'attached' });
      assert((await card.locator('.badge.renamed').count()) === 2, 'both marked renamed');
      await shot(p, '4b-names-as-saved');
      await p.getByRole('button', { name: 'Remove Coastline twin' }).click();
      await p.getByRole('button', { name: 'Remove download', exact: true }).click();
      await p.getByRole('heading', { name: 'Coastline twin' }).waitFor({ state: 'detached' });
    }, page);

    await test(`${scheme}: delete asks first and can remove files`, async (p) => {
      await p.getByRole('button', { name: 'Remove Ten thousand frames' }).click();
      await p.getByRole('heading', { name: /Remove “Ten thousand frames”/ }).waitFor();
      await shot(p, '5-delete');
      await p.getByLabel(/Also remove the files/).check();
      await p.getByRole('button', { name: 'Remove download and files' }).click();
      await p.getByRole('heading', { name: 'Ten thousand frames' }).waitFor({ state: 'detached' });
    }, page);

    await test(`${scheme}: completion and settings`, async (p) => {
      await p.evaluate(() => window.__fake.complete('d1'));
      await p.getByText('Complete', { exact: true }).first().waitFor();
      await p.getByText('4 files · xxh128 · ASC MHL manifest').waitFor();
      // One count for one package: the card says the same 4, and why not 5.
      const meta = (await p.locator('#card-d1 .meta').first().textContent()).replace(/\s+/g, ' ');
      assert(meta.includes('4 of 5 files (1 withheld for a virus) · 92.0 MB'), meta);
      await p.getByRole('button', { name: 'Verify again' }).click();
      await p.getByText('Verified again: all 4 files match.').waitFor();
      // Files as files: open one (button or double-click), show one in its folder, and
      // copy the package as text with every file's hash.
      const card = p.locator('#card-d1');
      if ((await card.getByRole('button', { name: 'Copy summary' }).count()) === 0) {
        await card.getByRole('button', { name: /^Show files of/ }).click();
      }
      await card.getByRole('button', { name: 'Open file Coastline/Day 1/A001_C002.mov' }).click();
      await p.waitForFunction(() => window.__fake.state.opened?.index === 0);
      await card.locator('[role=listitem]').filter({ hasText: 'Read me.txt' }).dblclick();
      await p.waitForFunction(() => window.__fake.state.opened?.index === 3);
      await card.getByRole('button', { name: 'Show file Read me.txt in its folder' }).click();
      await p.waitForFunction(() => window.__fake.state.shown?.index === 3);
      await card.getByRole('button', { name: 'Copy summary' }).click();
      await card.getByText('Summary copied').waitFor();
      const copied = await p.evaluate(() => window.__fake.state.clipboard);
      assert(copied.startsWith('Inbound demo: Coastline rushes (from editor@studio.example)'), copied);
      assert(copied.includes('Coastline/Day 1/A001_C002.mov\t48.0 MB\txxh128 0123456789abcdef0123456789abcdef'), copied);
      await shot(p, '4b-files-as-files');
      await p.getByRole('button', { name: 'Settings' }).click();
      await p.getByRole('heading', { name: 'Settings' }).waitFor();
      await shot(p, '6-settings');
      // A token for the agent API: shown once, then only "make a new one" or drop it.
      await p.getByRole('button', { name: 'Require a token…' }).click();
      const shown = await p.getByLabel('New agent API token').inputValue();
      assert(shown.length === 64, `token shown: ${shown.length} characters`);
      await p.getByRole('button', { name: 'Stop requiring a token' }).waitFor();
      await shot(p, '6b-agent-token');
      assert(await p.evaluate(() => window.__fake.state.settings.agent_api_token), 'token required');
      await p.getByLabel('Connections per package').fill('16');
      await p.getByLabel('Hash format of the proof (ASC MHL manifest)').selectOption('md5');
      await p.getByRole('button', { name: 'Save' }).click();
      // Saving answers.
      await p.getByRole('status').filter({ hasText: 'Settings saved' }).waitFor();
      const conns = await p.evaluate(() => window.__fake.state.settings.connections_per_download);
      assert(conns === 16, `saved ${conns}`);
      const hash = await p.evaluate(() => window.__fake.state.settings.hash_algorithm);
      assert(hash === 'md5', `saved ${hash}`);
      // A hook that failed after the download shows on the card; the package stays complete.
      await p.evaluate(() => window.__fake.emit('engine', { type: 'after_download', id: 'd1', error: 'the command ingest exited with 3: the ingest disk is full' }));
      await p.getByText('After the download: the command ingest exited with 3: the ingest disk is full. The package itself is complete.').waitFor();
      await shot(p, '7-list');
    }, page);
    await test(`${scheme}: the bandwidth schedule is edited, saved and shown in the header`, async (p) => {
      await p.getByRole('button', { name: 'Settings' }).click();
      await p.getByRole('heading', { name: 'Settings' }).waitFor();
      await p.getByRole('button', { name: 'Add a limit for some hours' }).click();
      await p.getByLabel('Limit 1: Friday').uncheck();
      await p.getByLabel('Limit 1: MB/s').fill('5');
      // Download hours with no day say so, and are not saved.
      await p.getByRole('button', { name: 'Add download hours' }).click();
      for (const day of ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']) {
        await p.getByLabel(`Download hours 1: ${day}`).uncheck();
      }
      await p.getByText('Download hours 1: Choose at least one day.').waitFor();
      await p.getByLabel('Limit 1: from').scrollIntoViewIfNeeded();
      await shot(p, '6c-schedule-editor');
      await p.getByRole('button', { name: 'Save' }).click();
      await p.getByRole('heading', { name: 'Settings' }).waitFor();
      assert((await p.evaluate(() => window.__fake.state.schedule.limits.length)) === 0, 'not saved with a problem');
      await p.getByRole('button', { name: 'Remove download hours 1' }).click();
      await p.getByRole('button', { name: 'Save' }).click();
      await p.getByRole('heading', { name: 'Settings' }).waitFor({ state: 'detached' });
      const saved = await p.evaluate(() => window.__fake.state.schedule);
      assert(JSON.stringify(saved) === JSON.stringify({ limits: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '18:00', bytes_per_sec: 5 * 1048576 }], only_between: [] }),
        `saved ${JSON.stringify(saved)}`);
      // The rule ends in an hour: after 23:00 that is tomorrow, and the header names the day.
      await p.getByText(/^Limited to 5\.0 MB\/s until (\w{3} )?\d\d:\d\d, then unlimited$/).waitFor();
      // A download outside the download hours says until when it waits.
      await p.evaluate(() => window.__fake.scheduleWait('d1', 7200));
      await p.getByText(/^Waiting for download hours — from \d\d:\d\d$|^Waiting for download hours — from \w{3} \d\d:\d\d$/).waitFor();
      await shot(p, '6d-schedule-in-force');
      // Reopened, the dialog shows the saved rule.
      await p.getByRole('button', { name: 'Settings' }).click();
      assert(!(await p.getByLabel('Limit 1: Friday').isChecked()), 'friday stays off');
      await p.getByRole('button', { name: 'Cancel' }).click();
    }, page);
    await test(`${scheme}: choose files: a folder, minus one file, with totals`, async (p) => {
      await p.getByLabel('MASV link').fill('https://get.massive.app/pick?secret=x');
      await p.getByRole('button', { name: 'Choose files…' }).click();
      await p.getByRole('heading', { name: 'Choose files' }).waitFor();
      const totals = () => p.locator('.totals').innerText();
      assert((await totals()) === '4 of 4 files · 92.0 MB of 92.0 MB', await totals());
      await p.getByRole('button', { name: 'Select none' }).click();
      assert((await totals()).startsWith('0 of 4 files'), await totals());
      assert(await p.getByRole('button', { name: 'Download 0 files' }).isDisabled(), 'nothing chosen: nothing to download');
      // The whole folder, then one of its files left out.
      await p.getByLabel('Folder Coastline', { exact: true }).check();
      assert((await totals()) === '3 of 4 files · 92.0 MB of 92.0 MB', await totals());
      await p.getByRole('button', { name: 'Open Coastline', exact: true }).click();
      await p.getByRole('button', { name: 'Open Coastline/Day 1' }).click();
      await p.getByLabel('Coastline/Day 1/A001_C003.mov', { exact: true }).uncheck();
      assert((await totals()) === '2 of 4 files · 60.0 MB of 92.0 MB', await totals());
      assert(await p.getByLabel('Folder Coastline', { exact: true }).evaluate((el) => el.indeterminate), 'the folder shows it is partly chosen');
      assert(await p.getByLabel('invoice.pdf.exe', { exact: true }).isDisabled(), 'a withheld file cannot be chosen');
      await shot(p, '9a-choose-tree');
      // The search finds by any part of the path.
      await p.getByLabel("Search the package's files").fill('take 2');
      assert((await p.locator('.tree [role=listitem]').count()) === 1, 'one file found');
      await shot(p, '9-choose-files');
      await p.getByLabel("Search the package's files").fill('');
      await p.getByRole('button', { name: 'Download 2 files' }).click();
      await p.getByRole('heading', { name: 'Choose files' }).waitFor({ state: 'detached' });
      const ids = await p.evaluate(() => window.__fake.state.lastFileIds);
      assert(JSON.stringify([...ids].sort()) === JSON.stringify(['f0', 'f2']), `added with ${JSON.stringify(ids)}`);
      // Later, from its card: one file left out, another taken in.
      const id = await p.evaluate(() => window.__fake.state.downloads.at(-1).id);
      const card = p.locator(`#card-${id}`);
      await card.getByRole('button', { name: /^Show files of/ }).click();
      await card.getByRole('button', { name: 'Change files…' }).click();
      await p.getByRole('heading', { name: 'Change files' }).waitFor();
      assert((await totals()) === '2 of 4 files · 60.0 MB of 92.0 MB', await totals());
      await p.getByRole('button', { name: 'Open Coastline', exact: true }).click();
      await p.getByRole('button', { name: 'Open Coastline/Day 1' }).click();
      await p.getByLabel('Coastline/Day 1/A001_C002.mov', { exact: true }).uncheck();
      await p.getByLabel('Read me.txt', { exact: true }).check();
      assert((await totals()).startsWith('2 of 4 files'), await totals());
      await shot(p, '9c-change-files');
      await p.getByRole('button', { name: 'Apply' }).click();
      await p.getByRole('heading', { name: 'Change files' }).waitFor({ state: 'detached' });
      const choice = await p.evaluate(() => window.__fake.state.lastChoice);
      assert(choice.id === id && JSON.stringify([...choice.fileIds].sort()) === JSON.stringify(['f2', 'f3']), `changed with ${JSON.stringify(choice)}`);
      // The file list shows the change at once.
      await card.locator('[role=listitem][data-state=excluded]').filter({ hasText: 'A001_C002.mov' }).waitFor();
      await card.getByRole('button', { name: /^Show files of/ }).click();
      // A package of 10,000 files: folders first, a handful of rows in the page.
      await p.getByLabel('MASV link').fill('https://get.massive.app/many?secret=x');
      await p.getByRole('button', { name: 'Choose files…' }).click();
      await p.getByText('10000 of 10000 files').waitFor();
      const rows = await p.locator('.tree [role=listitem]').count();
      assert(rows < 60, `${rows} rows rendered for 10,000 files`);
      await p.getByLabel("Search the package's files").fill('file-09999');
      await p.getByText('batch-099/file-09999.dat').waitFor();
      await shot(p, '9b-choose-many');
      await p.getByRole('button', { name: 'Cancel' }).click();
    }, page);
    await test(`${scheme}: "Change files…" shows what arrived ticked and locked`, async (p) => {
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      await p.getByLabel('MASV link').fill('https://get.massive.app/partly?secret=x');
      await p.keyboard.press('Enter');
      await p.waitForFunction((n) => window.__fake.state.downloads.length > n, before);
      const id = await p.evaluate(() => {
        const d = window.__fake.state.downloads.at(-1);
        const clip = window.__fake.state.files[d.id][0];
        Object.assign(clip, { state: 'complete', bytes_done: clip.size });
        return d.id;
      });
      const card = p.locator(`#card-${id}`);
      await card.getByRole('button', { name: /^Show files of/ }).click();
      await card.getByRole('button', { name: 'Change files…' }).click();
      await p.getByRole('heading', { name: 'Change files' }).waitFor();
      await p.getByRole('button', { name: 'Open Coastline', exact: true }).click();
      await p.getByRole('button', { name: 'Open Coastline/Day 1' }).click();
      const arrived = p.getByLabel('Coastline/Day 1/A001_C002.mov', { exact: true });
      assert(await arrived.isChecked(), 'a downloaded file is ticked');
      assert(await arrived.isDisabled(), 'and locked');
      assert(await p.getByLabel('Folder Coastline/Day 1', { exact: true }).isChecked(), 'its folder, all ticked, is ticked');
      await shot(p, '9d-change-files-downloaded');
      await p.getByRole('button', { name: 'Cancel' }).click();
      await p.evaluate((i) => window.__fake.remove(i), id);
    }, page);
    await test(`${scheme}: the queue is reordered by keyboard and by dragging`, async (p) => {
      const order = () => p.locator('section.list article:not([data-state=complete]) h3').allInnerTexts();
      const before = await order();
      assert(before.length >= 3, `unfinished downloads: ${before}`);
      const last = before[before.length - 1];
      // Alt+Home from the card's "down" control… which is disabled at the end: use "up".
      await p.getByRole('button', { name: `Move ${last} up`, exact: true }).focus();
      await p.keyboard.press('Alt+Home');
      await p.waitForFunction((n) => document.querySelector('section.list article h3')?.textContent === n, last);
      let now = await order();
      assert(JSON.stringify(now) === JSON.stringify([last, ...before.slice(0, -1)]), `after Alt+Home: ${now}`);
      const focusedCard = await p.evaluate(() => document.activeElement?.closest('article')?.querySelector('h3')?.textContent);
      assert(focusedCard === last, `the focus stays with the moved package: ${focusedCard}`);
      await p.keyboard.press('Alt+ArrowDown');
      await p.waitForFunction((n) => document.querySelectorAll('section.list article h3')[1]?.textContent === n, last);
      now = await order();
      assert(now[1] === last, `after Alt+ArrowDown: ${now}`);
      await shot(p, '10-queue-reordered');
      // A package's own speed limit, from its expanded card.
      const name = now[0];
      await p.getByRole('button', { name: `Show files of ${name}` }).click();
      const card = p.locator(`section.list article[aria-label="${name}"]`);
      await card.getByLabel('Speed limit for this package (MB/s, empty for none)').fill('2');
      await card.getByRole('button', { name: 'Set', exact: true }).click();
      await card.getByText('now at most 2.0 MB/s').waitFor();
      const limit = await p.evaluate((n) => window.__fake.state.downloads.find((d) => d.name === n).rate_limit, name);
      assert(limit === 2 * 1048576, `limit sent: ${limit}`);
      await shot(p, '10b-own-limit');
      await p.getByRole('button', { name: `Show files of ${name}` }).click();
      // Dragged onto the first card: it goes before it.
      // The drag's events as the browser sends them, with one DataTransfer throughout.
      const firstCard = p.locator('section.list article').first();
      const dragged = p.locator(`section.list article[aria-label="${now[2]}"]`);
      const dt = await p.evaluateHandle(() => new DataTransfer());
      await dragged.dispatchEvent('dragstart', { dataTransfer: dt });
      await firstCard.dispatchEvent('dragover', { dataTransfer: dt });
      await firstCard.dispatchEvent('drop', { dataTransfer: dt });
      await p.waitForFunction((n) => document.querySelector('section.list article h3')?.textContent === n, now[2]);
      const engineOrder = await p.evaluate(() => window.__fake.state.downloads.filter((d) => d.state !== 'complete')
        .sort((a, b) => b.priority - a.priority || a.created_at - b.created_at).map((d) => d.name));
      assert(JSON.stringify(engineOrder) === JSON.stringify(await order()), `shown as the engine ranks: ${engineOrder} vs ${await order()}`);
    }, page);
    await test(`${scheme}: team inbox: login, upload progress, download, watch`, async (p) => {
      await p.getByRole('tab', { name: 'Team inbox' }).click();
      await p.getByRole('heading', { name: "Your team's inbox" }).waitFor();
      await p.getByLabel('Team id').fill('team-demo');
      await p.getByLabel('API key').fill('wrong-key-999');
      await p.getByRole('button', { name: 'Log in' }).click();
      await p.getByText(/refused the API key/).waitFor();
      assert(!(await p.content()).includes('wrong-key-999'), 'a refused key stays out of the DOM');
      await p.getByLabel('API key').fill('good-key-1234');
      await p.getByRole('button', { name: 'Log in' }).click();
      await p.getByRole('cell', { name: 'Trailer v3 conform', exact: true }).waitFor();
      assert(!(await p.content()).includes('good-key-1234'), 'the API key is not in the DOM');
      await p.evaluate(() => window.__fake.emit('inbox', { type: 'upload', package_id: 'pkg-up', fraction: 0.42, bytes: 1, total: 2 }));
      await p.getByText('Uploading 42%').waitFor();
      const bar = await p.getByRole('progressbar', { name: 'Upload of Day 2 rushes' }).getAttribute('aria-valuenow');
      assert(bar === '42', `upload bar at ${bar}`);
      assert(await p.getByText('Virus').first().isVisible(), 'virus flag shown');
      assert(await p.getByRole('button', { name: 'Download Day 2 rushes' }).count() === 0, 'no download while uploading');
      await shot(p, '8-inbox');
      await p.getByRole('button', { name: 'Download Trailer v3 conform' }).click();
      await p.getByText('In Downloads').waitFor();
      await p.getByLabel(/from Editorial automatically/).check();
      await p.getByText('into /home/user/Downloads/MASV/Editorial').waitFor();
      const watched = await p.evaluate(() => window.__fake.state.inbox.portals[0].watched);
      assert(watched === true, 'portal watched');
      // Watching starts today; the person may pick an earlier day to take the portal's past.
      const since = p.getByLabel('sent since');
      const today = await since.inputValue();
      assert(/^\d{4}-\d{2}-\d{2}$/.test(today), `start date shown: ${today}`);
      await since.fill('2026-01-05');
      await p.waitForFunction(() => window.__fake.state.inbox.portals[0].since === new Date('2026-01-05T00:00:00').getTime() / 1000);
      // A package the watcher could not start says why, and when it is tried again.
      await p.evaluate(() => window.__fake.emit('inbox', { type: 'package_failed', package_id: 'pkg-stills',
        portal_id: 'portal-edit', package_name: 'Stills', attempts: 1, retry_at: 2000000000,
        reason: 'MASV listed package pkg-stills without an access token; it cannot be downloaded without a link' }));
      await p.getByText(/Not started: MASV listed package pkg-stills without an access token/).waitFor();
      await shot(p, '8b-inbox-watched');
      // Each package says when it expires, the last day marked; a team member keeps one
      // longer, and narrows the list by tag, teamspace and expiry.
      const stills = p.getByRole('row', { name: /Stills for poster/ });
      await stills.getByText(/^expires in (19|20) h$/).waitFor();
      assert(await stills.locator('.expiry.soon').count() === 1, 'the last day is marked');
      await p.getByRole('button', { name: 'Keep Stills for poster 7 days longer' }).click();
      await stills.getByText('expires in 7 days').waitFor();
      await p.getByLabel('Expires').selectOption({ label: 'Within 2 days' });
      await p.getByRole('cell', { name: 'Trailer v3 conform', exact: true }).waitFor({ state: 'detached' });
      await p.getByLabel('Expires').selectOption({ label: 'Any time' });
      await p.getByLabel('Tag').selectOption({ label: 'Finals' });
      await p.getByRole('cell', { name: 'Stills for poster', exact: true }).waitFor({ state: 'detached' });
      await p.getByRole('cell', { name: 'Trailer v3 conform', exact: true }).waitFor();
      await shot(p, '8c-inbox-expiry-and-filters');
      await p.getByLabel('Tag').selectOption({ label: 'Any' });
      await p.getByLabel('Teamspace').selectOption('ts-set');
      await p.getByRole('cell', { name: 'Trailer v3 conform', exact: true }).waitFor({ state: 'detached' });
      await p.getByLabel('Teamspace').selectOption({ label: 'Any' });
      await p.getByRole('cell', { name: 'Trailer v3 conform', exact: true }).waitFor();
      await p.getByRole('button', { name: 'Finalized', exact: true }).click();
      await p.getByRole('cell', { name: 'Day 2 rushes', exact: true }).waitFor({ state: 'detached' });
      await p.getByRole('tab', { name: 'Downloads' }).click();
      await p.getByRole('heading', { name: 'Trailer v3 conform' }).waitFor();
      await p.getByRole('tab', { name: 'Team inbox' }).click();
      await p.getByRole('button', { name: 'Log out' }).click();
      await p.getByRole('heading', { name: "Your team's inbox" }).waitFor();
      await p.getByRole('tab', { name: 'Downloads' }).click();
    }, page);
    await test(`${scheme}: 500 packages stay fluid, and search, filters and sort narrow them`, async (p) => {
      const before = await p.evaluate(() => window.__fake.state.downloads.length);
      await p.evaluate(() => window.__fake.history(500));
      await p.getByRole('heading', { name: 'Archive 0499' }).waitFor();
      const cards = () => p.locator('section.list article').count();
      assert((await cards()) < 60, `${await cards()} cards in the page for ${before + 500} packages`);
      // Scrolled to the end, the last ones are there and the count stays small.
      await p.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await p.getByRole('heading', { name: 'Archive 0000' }).waitFor();
      assert((await cards()) < 60, `${await cards()} cards after scrolling`);
      await p.evaluate(() => window.scrollTo(0, 0));
      const search = p.getByLabel('Search downloads');
      await search.fill('archive 0042');
      await p.getByText(/^1 of \d+ packages$/).waitFor();
      // The count line and the list are rendered in separate passes; wait for the list.
      await p.waitForFunction(() => document.querySelectorAll('section.list article').length === 1)
        .catch(async () => assert(false, `${await cards()} cards for one match`));
      // A file name finds its package (the engine searches every file).
      await search.fill('NOTES-0317.txt');
      await p.getByRole('heading', { name: 'Archive 0317' }).waitFor();
      await p.getByText(/^1 of \d+ packages$/).waitFor();
      await search.fill('vendor3@');
      await p.getByText(/^7[0-9] of \d+ packages$/).waitFor();
      await shot(p, '11-history-search');
      await search.fill('');
      await p.getByLabel('Which downloads to show').selectOption('active');
      const active = await p.evaluate(() => window.__fake.state.downloads.filter((d) => d.state !== 'complete' && d.state !== 'error').length);
      await p.getByText(new RegExp(`^${active} of \\d+ packages$`)).waitFor();
      await p.getByLabel('Which downloads to show').selectOption('all');
      await p.getByLabel('Sort downloads by').selectOption('name');
      await p.waitForFunction(() => document.querySelector('section.list article h3')?.textContent?.startsWith('Archive 0000'))
        .catch(async () => assert(false, `sorted by name, first: ${await p.locator('section.list article h3').first().innerText()}`));
      // Clearing the completed packages keeps their files (removed without them).
      await p.getByLabel('Sort downloads by').selectOption('queue');
      const withFiles = await p.evaluate(() => window.__fake.state.removedWithFiles ?? 0);
      const completed = await p.evaluate(() => window.__fake.state.downloads.filter((d) => d.state === 'complete').length);
      await p.getByRole('button', { name: /^Clear completed \(\d+\)$/ }).click();
      await p.getByRole('heading', { name: 'Archive 0000' }).waitFor({ state: 'detached' });
      // Out of the list at once, with a way back: Undo brings them all back, nothing forgotten.
      await p.getByText(`${completed} completed packages cleared from the list; their files stay.`).waitFor();
      await shot(p, '11c-clear-undo');
      await p.getByRole('button', { name: 'Undo' }).click();
      await p.getByRole('button', { name: `Clear completed (${completed})` }).waitFor();
      assert((await p.evaluate(() => window.__fake.state.downloads.filter((d) => d.state === 'complete').length)) === completed, 'undo forgets nothing');
      // Cleared again and left: forgotten once the time for Undo is up.
      await p.getByRole('button', { name: /^Clear completed \(\d+\)$/ }).click();
      await p.waitForFunction(() => !window.__fake.state.downloads.some((d) => d.state === 'complete'), null, { timeout: 20000 });
      await p.getByRole('button', { name: 'Undo' }).waitFor({ state: 'detached' });
      const left = await p.evaluate(() => window.__fake.state.downloads.filter((d) => d.state === 'complete').length);
      assert(left === 0, `${left} completed packages left`);
      assert((await p.evaluate(() => window.__fake.state.removedWithFiles ?? 0)) === withFiles, 'no file was removed');
      await shot(p, '11b-history-cleared');
    }, page);
    await context.close();
  }
  // Text at 200 %: the window at its default size (1040 × 720) zoomed twice over is
  // 520 × 360 CSS pixels. Every screen reflows into it: nothing wider than the window,
  // and no text cut off (shortened with an ellipsis only where the whole of it is in a
  // tooltip).
  {
    const context = await browser.newContext({ viewport: { width: 520, height: 360 }, deviceScaleFactor: 2 });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    await page.addInitScript({ content: readFileSync(join(here, 'fake-backend.js'), 'utf8') });
    await page.goto(`http://127.0.0.1:${port}/`);
    const whole = async (p, n) => {
      await p.screenshot({ path: join(shots, `zoom200-${n}.png`) });
      const cut = await p.evaluate(() => {
        const found = [];
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth > width + 1) found.push(`the page is ${document.documentElement.scrollWidth} px wide in ${width}`);
        for (const el of document.querySelectorAll('body *')) {
          if (!el.getClientRects().length) continue;
          const text = [...el.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim());
          if (!text) continue;
          const name = `${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 40)}"`;
          const r = el.getBoundingClientRect();
          if (r.right > width + 1 || r.left < -1) found.push(`${name} runs out of the window (${Math.round(r.left)}–${Math.round(r.right)})`);
          const css = getComputedStyle(el);
          const clips = (o) => o === 'hidden' || o === 'clip';
          const tooltip = el.closest('[title]');
          if (clips(css.overflowX) && el.scrollWidth > el.clientWidth + 1 && !tooltip) found.push(`${name} is cut (${el.scrollWidth} in ${el.clientWidth})`);
          if (clips(css.overflowY) && el.scrollHeight > el.clientHeight + 1) found.push(`${name} is cut vertically (${el.scrollHeight} in ${el.clientHeight})`);
        }
        return found;
      });
      assert(cut.length === 0, `at 200 % on ${n}: ${cut.slice(0, 6).join('; ')}`);
    };
    await test('200 %: every screen reflows without cutting text', async (p) => {
      await p.getByText('No downloads yet').waitFor();
      await whole(p, 'empty');
      await p.getByRole('button', { name: 'Try a demo package' }).click();
      await p.getByRole('heading', { name: 'Inbound demo: Coastline rushes' }).waitFor();
      await p.evaluate(() => window.__fake.progress('d1', 0.42, 31457280));
      await p.getByRole('button', { name: /Show files of/ }).first().click();
      await p.getByText('A001_C002.mov').waitFor({ state: 'attached' });
      await p.locator('.files').first().evaluate((el) => el.scrollIntoView());
      await whole(p, 'files');
      await p.getByRole('button', { name: 'Settings' }).click();
      await p.getByRole('heading', { name: 'Settings' }).waitFor();
      await whole(p, 'settings');
      // It stays on top: what is under its corners and its middle is the dialog itself
      // (not the header, a card or the backdrop's neighbours).
      const covered = await p.evaluate(() => {
        const d = document.querySelector('.dialog');
        const r = d.getBoundingClientRect();
        const clampX = (x) => Math.min(Math.max(x, 1), innerWidth - 2);
        const clampY = (y) => Math.min(Math.max(y, 1), innerHeight - 2);
        const points = [[r.left + 4, r.top + 4], [r.right - 4, r.top + 4], [r.left + r.width / 2, r.top + r.height / 2], [r.left + 4, r.bottom - 4]];
        return points.map(([x, y]) => [clampX(x), clampY(y)]).filter(([x, y]) => !d.contains(document.elementFromPoint(x, y)));
      });
      assert(covered.length === 0, `something covers Settings at 200 % at ${JSON.stringify(covered)}`);
      await p.getByRole('button', { name: 'Cancel' }).click();
      await p.evaluate(() => window.__fake.incoming(31, { name: 'Day 2 rushes', package_id: 'pkg-zoom', sender_email: 'dit@set.example',
        file_count: 412, total_bytes: 180 * 2 ** 30, sizes_complete: true, withheld: 1 }));
      await p.getByRole('heading', { name: 'Download this package?' }).waitFor();
      await whole(p, 'confirm');
      await p.keyboard.press('Escape');
      await p.getByRole('tab', { name: 'Team inbox' }).click();
      await p.getByRole('heading', { name: "Your team's inbox" }).waitFor();
      await whole(p, 'inbox');
    }, page);
    await context.close();
  }
} finally {
  await browser?.close();
  server.kill();
}
const failed = results.filter(([, ok]) => !ok).length;
console.log(`axe-core: ${audited.size} screens checked in light and dark`);
console.log(`browser: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
