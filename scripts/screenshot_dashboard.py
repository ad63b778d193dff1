"""Take the README's dashboard screenshot from a running product, with headless Chromium.

Start the product with ./scripts/run, then, from the project folder:

    .venv/bin/pip install playwright   # once, if the test extra is not installed
    .venv/bin/python scripts/screenshot_dashboard.py

It logs in as ``admin`` with LUMETA_ADMIN_PASSWORD from .env and writes
docs/dashboard.png. Debian's chromium is used; no browser is downloaded.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env_file_value(name: str, path: Path = ROOT / ".env") -> str | None:
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    port = (
        os.environ.get("WEB_PORT") or env_file_value("WEB_PORT", ROOT / "var" / "run.env") or "8000"
    )
    parser.add_argument(
        "--url",
        default=f"http://127.0.0.1:{port}",
        help="base URL of the product; default: the port scripts/run uses (WEB_PORT), else 8000",
    )
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--password",
        default=os.environ.get("LUMETA_ADMIN_PASSWORD") or env_file_value("LUMETA_ADMIN_PASSWORD"),
        help="default: LUMETA_ADMIN_PASSWORD from the environment or .env",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    if not args.password:
        parser.error("no password: pass --password or set LUMETA_ADMIN_PASSWORD in .env")

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if chromium is None:
        print(
            "error: Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr
        )
        return 1

    from playwright.sync_api import Error, sync_playwright

    try:
        take_screenshot(sync_playwright, chromium, args)
    except Error as error:
        first_line = str(error).strip().splitlines()[0]
        print(f"error: {first_line} (is the product running at {args.url}?)", file=sys.stderr)
        return 1
    print(f"Wrote {args.output}")
    return 0


def take_screenshot(sync_playwright, chromium: str, args: argparse.Namespace) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(f"{args.url}/login/")
        page.get_by_label("Username").fill(args.user)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        page.goto(f"{args.url}/dashboard/")
        page.wait_for_load_state("networkidle")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.output), full_page=True)
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
