// Browser tests of the dashboard: headless Chromium (Debian's `chromium`) driven by
// playwright-core, against a real `saferound-server --demo --demo-hazards`. Screenshots of the main
// pages go to $SCREENSHOTS (default target/screenshots).
//
//   node tests/browser/dashboard.mjs <saferound-server binary> <phone CLI binary>
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const [server, cli] = process.argv.slice(2);
const shots = process.env.SCREENSHOTS || 'target/screenshots';
mkdirSync(shots, { recursive: true });
const dir = mkdtempSync(path.join(tmpdir(), 'saferound-browser-'));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const here = path.dirname(new URL(import.meta.url).pathname);
// A 160 × 120 PNG (the demo's after-photo) to upload through the rectification form.
const AFTER_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAKAAAAB4CAIAAAD6wG44AAAA5ElEQVR42u3RQQ0AIAwAsclBCRIxuQ8SUDECS5NTcI2xphoXFgAWYAEWYF0Bzp36NMCAAQMWYAEWYAEWYMCAAQuwAAuwAAswYMCABViABViABViAAQMGLMACLMACLMCAAQMWYAEWYAEWYMCAAQuwAAuwAAuwAAMGDFiABViABViAAQMGLMACLMACLMCAAQMGDFiABViABViAAQMGLMACLMACLMCAAQMWYAEWYAEWYAEGDBiwAAuwAAuwAAMGDFiABViABViAAQMGLMACLMACLMACDBgwYAHW+8DqFGDAAizAAqyCDseR97gq5OCOAAAAAElFTkSuQmCC';

function start(extra) {
  const p = spawn(server, ['--listen', '127.0.0.1:0', '--db', path.join(dir, 'db'),
    '--blobs', path.join(dir, 'blobs'), '--log', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve({ p, url: m[1] });
    });
    p.on('exit', () => reject(new Error('server exited: ' + out)));
  });
}
const stop = (s) => new Promise((r) => { s.p.removeAllListeners('exit'); s.p.on('exit', r); s.p.kill('SIGKILL'); });

const day = (d) => d.toISOString().slice(0, 10);
const now = new Date('2027-03-01T01:00:00Z');
let srv = await start(['--demo', '--demo-hazards', '--now', now.toISOString()]);
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
const page = await ctx.newPage();
const step = async (name, f) => { process.stdout.write(`browser: ${name} ... `); await f(); console.log('ok'); };

try {
  await step('log in', async () => {
    await page.goto(srv.url + '/ledger');
    assert.match(page.url(), /\/login$/);
    await page.fill('#login', 'office');
    await page.fill('#password', 'saferound-demo');
    await page.click('#login-submit');
    await page.waitForURL(/\/ledger$/);
    assert.ok(await page.locator('a.hazard-link').count() >= 8);
    await page.screenshot({ path: `${shots}/ledger.png`, fullPage: true });
  });

  await step('filter the ledger', async () => {
    await page.selectOption('#f-risk', 'major');
    await page.click('#apply-filter');
    await page.waitForURL(/risk=major/);
    const risks = await page.locator('#ledger tbody .risk').allTextContents();
    assert.ok(risks.length >= 1 && risks.every((r) => r === '重大风险'), risks.join());
    await page.goto(srv.url + '/ledger?status=reported');
  });

  let hazard;
  await step('open a hazard and assign it', async () => {
    await page.locator('a.hazard-link').first().click();
    await page.waitForURL(/\/hazards\//);
    hazard = page.url().split('/hazards/')[1];
    await page.screenshot({ path: `${shots}/hazard.png`, fullPage: true });
    await page.fill('#form-assign textarea[name=measure]', '清理杂物，恢复疏散通道');
    await page.selectOption('#form-assign #responsible', { label: '李娜' });
    await page.fill('#assign-deadline', day(new Date(now.getTime() + 86400e3)));
    await page.click('#do-assign');
    await page.waitForURL(/msg=ok/);
    assert.equal(await page.textContent('#status'), '整改中');
    assert.equal(await page.textContent('#responsible'), '李娜');
  });

  await step('overdue board after the deadline', async () => {
    await stop(srv);
    srv = await start(['--now', new Date(now.getTime() + 3 * 86400e3).toISOString()]);
    await page.goto(srv.url + '/login');
    await page.fill('#login', 'office');
    await page.fill('#password', 'saferound-demo');
    await page.click('#login-submit');
    await page.waitForURL(/\/ledger$/);
    await page.goto(srv.url + '/overdue');
    assert.equal(await page.locator(`#overdue tr[data-id="${hazard}"]`).count(), 1);
    await page.screenshot({ path: `${shots}/overdue.png`, fullPage: true });
  });

  await step('an incident appears without reloading', async () => {
    await page.goto(srv.url + '/incidents');
    const store = path.join(dir, 'phone.db');
    execFileSync(cli, ['--store', store, 'enroll', '--server', srv.url, '--login', 'inspector', '--password', 'saferound-demo']);
    execFileSync(cli, ['--store', store, 'incident', '--title', '实验室试剂泄漏', '--description', '化学实验室试剂瓶破裂，已疏散', '--category', 'lab_chemicals', '--severity', 'major']);
    execFileSync(cli, ['--store', store, 'sync']);
    await page.locator('#incident-rows tr.new', { hasText: '实验室试剂泄漏' }).waitFor({ timeout: 8000 });
    await page.screenshot({ path: `${shots}/incidents.png`, fullPage: true });
  });

  await step('weekly grid and English', async () => {
    await page.goto(srv.url + '/weekly');
    await page.screenshot({ path: `${shots}/weekly.png`, fullPage: true });
    await page.click('text=English');
    await page.waitForSelector('text=Weekly reports');
  });

  await step('the institution weekly report to the province', async () => {
    await page.goto(srv.url + '/weekly');
    await page.locator('a.institution-report').last().click();
    await page.waitForSelector('#institution-report');
    await page.screenshot({ path: `${shots}/institution-weekly.png`, fullPage: true });
  });

  await step('download the Excel export', async () => {
    await page.goto(srv.url + '/ledger');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-xlsx')]);
    const file = path.join(dir, 'ledger.xlsx');
    await dl.saveAs(file);
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 2).toString(), 'PK');
    // Read back: the customary columns, and exactly the hazards the ledger page lists.
    const rows = JSON.parse(execFileSync('python3', [path.join(here, 'read_xlsx.py'), file]).toString());
    // (The page is in English by now: the export follows the page's language.)
    const zh = rows[0][0] === '序号';
    assert.deepEqual(rows[0].slice(0, 3), zh ? ['序号', '排查时间', '排查人员'] : ['No.', 'Reported', 'Reported by']);
    assert.equal(rows[0].length, 17);
    const links = await page.locator('a.hazard-link').evaluateAll((as) => as.map((a) => a.getAttribute('href').split('/hazards/')[1]));
    const exported = rows.slice(1).map((r) => r[16]);
    assert.deepEqual([...exported].sort(), [...links].sort());
    // 序号 is each hazard's own number (2026-0042), as the ledger page shows it.
    const shown = await page.locator('#ledger tbody tr').evaluateAll((trs) =>
      Object.fromEntries(trs.map((tr) => [tr.dataset.id, tr.querySelector('td.serial').textContent])));
    rows.slice(1).forEach((r) => assert.match(r[0], /^\d{4}-\d{4}$/));
    rows.slice(1).forEach((r) => assert.equal(r[0], shown[r[16]]));
    assert.equal(new Set(rows.slice(1).map((r) => r[0])).size, rows.length - 1);
  });
  // The server's clock is now + 3 days (the overdue step restarted it).
  const srvNow = new Date(now.getTime() + 3 * 86400e3);
  await step('start the hundred-day campaign and print its summary', async () => {
    await page.goto(srv.url + '/campaigns');
    await page.fill('#hundred-day input[name=start]', day(new Date(srvNow.getTime() - 10 * 86400e3)));
    await page.click('#hundred-day button');
    await page.waitForURL(/\/campaigns\/[0-9a-f-]{36}$/);
    assert.equal(await page.locator('#phases li').count(), 4);
    assert.equal(await page.locator('#phases li.current').count() >= 1, true);
    await page.screenshot({ path: `${shots}/campaign.png`, fullPage: true });
    await page.goto(page.url() + '/summary');
    // The figures themselves are checked against the ledger in tests/e2e/campaigns.rs.
    assert.match(await page.textContent('#total'), /\d+\.\d%/);
    await page.screenshot({ path: `${shots}/campaign-summary.png`, fullPage: true });
  });

  await step('duty roster: a holiday, a slot, who is on duty now', async () => {
    await page.goto(srv.url + '/duty');
    assert.equal(await page.locator('#nobody').count(), 1);
    await page.fill('#add-holiday input[name=name]', 'Spring Festival');
    await page.fill('#add-holiday input[name=starts]', day(srvNow));
    await page.fill('#add-holiday input[name=ends]', day(new Date(srvNow.getTime() + 2 * 86400e3)));
    await page.click('#add-holiday button');
    await page.waitForURL(/\/duty$/);
    await page.fill('#add-slot input[name=starts]', `${day(srvNow)}T00:00`);
    await page.fill('#add-slot input[name=ends]', `${day(srvNow)}T23:59`);
    await page.fill('#add-slot input[name=officer]', '王磊');
    await page.fill('#add-slot input[name=officer_phone]', '138 0000 0000');
    await page.fill('#add-slot input[name=leader]', '赵强');
    await page.fill('#add-slot input[name=leader_phone]', '139 0000 0000');
    await page.click('#add-slot button');
    await page.waitForURL(/\/duty$/);
    assert.equal(await page.locator('#on-duty .on-duty').count(), 1);
    assert.ok(await page.locator('#holidays .gap').count() >= 1);
    await page.screenshot({ path: `${shots}/duty.png`, fullPage: true });
  });
  await step('extend a built-in checklist', async () => {
    await page.goto(srv.url + '/checklists');
    await page.locator('#builtin a').first().click();
    await page.waitForURL(/from=/);
    await page.fill('#publish-form input[name=title_zh]', '学生公寓夜间巡查表');
    const items = await page.inputValue('#publish-form textarea[name=items]');
    await page.fill('#publish-form textarea[name=items]', items + '\nX-1 | 夜间值班人员在岗 | Night warden on duty | gate_control | general');
    await page.click('#publish-form button');
    await page.waitForURL(/published=inst-[0-9a-f]+@1/);
    assert.equal(await page.locator('#own tr.own').count(), 1);
    await page.screenshot({ path: `${shots}/checklists.png`, fullPage: true });
  });
  await step('report a rectification with an after-photo', async () => {
    await page.goto(srv.url + '/ledger?status=in_rectification');
    await page.locator('a.hazard-link').first().click();
    await page.waitForURL(/\/hazards\//);
    // Every demo hazard has its before-photo, and the browser shows it.
    assert.ok(await page.locator('#photos-before img.photo').count() >= 1);
    const png = path.join(dir, 'after.png');
    writeFileSync(png, Buffer.from(AFTER_PNG, 'base64'));
    await page.fill('#form-rectify textarea[name=note]', '已整改，见整改后照片');
    await page.setInputFiles('#form-rectify input[name=photos]', png);
    await page.click('#form-rectify button');
    await page.waitForURL(/msg=ok/);
    const after = page.locator('#photos-after img.photo');
    assert.equal(await after.count(), 1);
    await page.waitForFunction(() => {
      const img = document.querySelector('#photos-after img.photo');
      return img && img.complete && img.naturalWidth === 160;
    });
    await page.screenshot({ path: `${shots}/hazard-rectified.png`, fullPage: true });
  });
  await step('administration', async () => {
    const admin = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await admin.goto(srv.url + '/login');
    await admin.fill('#login', 'demo-admin');
    await admin.fill('#password', 'saferound-demo');
    await admin.click('#login-submit');
    await admin.waitForURL(/\/ledger$/);
    await admin.goto(srv.url + '/admin');
    assert.ok(await admin.locator('#users form.roles').count() >= 5);
    await admin.screenshot({ path: `${shots}/admin.png`, fullPage: true });
  });
  console.log(`browser: screenshots in ${shots}`);
} finally {
  await browser.close();
  await stop(srv);
}
