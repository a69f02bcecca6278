// Driving the real app through tauri-driver (scripts/e2e starts it on :4444): one session per app start,
// with the helpers every end-to-end script uses.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Builder, By, until } from "selenium-webdriver";

export const run = promisify(execFile);
const shots = process.env.PURSER_SCREENSHOTS;

/** Starts the built app with `args` and returns its WebDriver session and helpers over it. */
export async function startApp(args) {
  const driver = await new Builder()
    .usingServer("http://127.0.0.1:4444/")
    .withCapabilities({ browserName: "wry", "tauri:options": { application: process.env.PURSER_E2E_APP, args } })
    .build();
  const text = async (css) => (await driver.findElement(By.css(css))).getText();
  const waitText = async (css, want, ms = 5000) => {
    const el = await driver.wait(until.elementLocated(By.css(css)), ms);
    await driver.wait(async () => (await el.getText()).includes(want), ms, `"${want}" never appeared in ${css}`);
  };
  const open = async (screen, heading) => {
    await driver.findElement(By.css(`[data-screen=${screen}]`)).click();
    await driver.wait(until.elementLocated(By.xpath(`//h1[text()="${heading}"]`)), 5000);
    await driver.sleep(300);
  };
  // Screenshots of the app's window (X's own capture: WebKitWebDriver's screenshot call can hang on some
  // pages under Xvfb), or of the whole display when a notification is the point (`{ display: true }`).
  let windowId = null;
  const shot = async (name, { display = false } = {}) => {
    if (!display && !windowId) {
      const tree = (await run("xwininfo", ["-root", "-tree"])).stdout;
      windowId = tree.match(/^\s*(0x[0-9a-f]+) "Purser": .* 1200x800\+/m)?.[1] ?? null;
      if (!windowId) throw new Error(`the app's window is not among the display's windows:\n${tree}`);
    }
    await run("import", ["-window", display ? "root" : windowId, join(shots, `${name}.png`)]);
  };
  return { driver, text, waitText, open, shot };
}
