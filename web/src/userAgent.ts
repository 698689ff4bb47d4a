// A session's User-Agent in words ("Firefox on Windows"), for the list of where the user is signed
// in. A few patterns, no parsing library: the list needs a device the user recognises, not a
// version, and a browser it gets wrong is still named by its system.

/** Browsers by a token of theirs, the most specific first: Edge and Opera say "Chrome" too, Chrome says "Safari". */
const BROWSERS: [RegExp, string][] = [
  [/\bEdgA?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\bHeadlessChrome\//, 'Headless Chrome'],
  [/\bChromium\//, 'Chromium'],
  [/\b(Chrome|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

/** Systems, the most specific first: an iPhone's says "like Mac OS X", Android's says "Linux". */
const SYSTEMS: [RegExp, string][] = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * "Firefox on Windows", "Safari on iPhone", "Chrome" (no system found), the first product of
 * anything else ("curl", "node"), or "Unknown browser" when there is none.
 */
export function describeUserAgent(ua: string | null | undefined): string {
  const text = (ua ?? '').trim();
  if (!text) return 'Unknown browser';
  const browser = BROWSERS.find(([re]) => re.test(text))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(text))?.[1];
  if (browser) return system ? `${browser} on ${system}` : browser;
  // Not a browser (a script, an app): its first product token, without the version.
  const product = /^[A-Za-z][\w.-]{0,39}/.exec(text)?.[0];
  const name = product && product !== 'Mozilla' ? product : 'Unknown browser';
  return system ? `${name} on ${system}` : name;
}
