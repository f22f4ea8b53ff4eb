"""The web app on the shapes gallery with a tiny model trained on the
shapes data: HTTP API, path traversal, and a real browser (headless
Debian Chromium driven by selenium)."""
import http.client
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from helpers.gallery import (GALLERY, TINY_CFG, child_env, gallery_cli,
                             wait_for_url)

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
RED_CIRCLES = '000/'  # class 0 of tools/data/make_shapes_dataset.py


def get(url: str, path: str):
    """Raw GET (the path is sent exactly as given); (status, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                      timeout=120)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope='module')
def server(trained_shapes, tmp_path_factory):
    """``tools/gallery.py serve`` on the indexed shapes test images."""
    root, ckpt = trained_shapes
    tmp = tmp_path_factory.mktemp('served')
    db = tmp / 'shapes.db'
    photos = osp.join(root, 'zeroshot', 'test')
    gallery_cli('index', TINY_CFG, ckpt, photos, '--db', db, '--workers',
                '0')
    proc = subprocess.Popen(
        [sys.executable, GALLERY, 'serve', '--db', str(db), '--port', '0'],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    try:
        url = wait_for_url(proc)
        for _ in range(100):  # bound and printed; wait until it accepts
            try:
                if get(url, '/')[0] == 200:
                    break
            except ConnectionRefusedError:
                time.sleep(0.1)
        assert url.startswith('http://127.0.0.1:')
        yield url, photos
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def api(url: str, **params) -> dict:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f'{url}api/search?{query}',
                                timeout=120) as resp:
        return json.load(resp)


def test_api_text_search_paging_and_image_id(server):
    url, _ = server
    first = api(url, q='红色的圆形', k=5)
    assert first['total'] == 240 and len(first['results']) == 5
    assert all(h['path'].startswith(RED_CIRCLES) for h in first['results'])
    page2 = api(url, q='红色的圆形', k=5, offset=5)
    assert page2['results'][0]['rank'] == 6
    assert not {h['id'] for h in page2['results']} & {
        h['id'] for h in first['results']}
    top = first['results'][0]
    again = api(url, image_id=top['id'], k=3)
    assert again['results'][0]['id'] == top['id']
    status, body = get(url, top['thumb'])
    assert status == 200 and body[:2] == b'\xff\xd8'  # a JPEG thumbnail
    status, _ = get(url, '/api/search?q=')
    assert status == 400


def test_upload_search(server):
    url, photos = server
    path = osp.join(photos, '004', '100004.png')
    boundary = 'mmcnclipboundary'
    with open(path, 'rb') as f:
        data = f.read()
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="q.png"\r\nContent-Type: image/png\r\n\r\n').encode() \
        + data + f'\r\n--{boundary}\r\nContent-Disposition: form-data; ' \
        f'name="k"\r\n\r\n3\r\n--{boundary}--\r\n'.encode()
    req = urllib.request.Request(
        f'{url}api/search', data=body, headers={
            'Content-Type': f'multipart/form-data; boundary={boundary}'})
    with urllib.request.urlopen(req, timeout=120) as resp:
        hits = json.load(resp)['results']
    assert hits[0]['path'] == '004/100004.png'


@pytest.mark.parametrize('path', [
    '/photo/..%2Flabel_cn.txt', '/photo/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/thumb/..%2F..%2Flabel_cn.txt', '/photo//etc/passwd',
    '/photo/000/..%2F..%2Flabel_cn.txt', '/photo/000/missing.png',
    '/photo/link.png'
])
def test_path_traversal_refused(server, path):
    url, photos = server
    link = osp.join(photos, 'link.png')
    if not osp.islink(link):
        os.symlink(osp.join(photos, '000', '100000.png'), link)
    status, body = get(url, path)
    assert status in (403, 404), (path, status)
    assert b'root:' not in body and '红色'.encode() not in body
    assert get(url, '/photo/000/100000.png')[0] == 200


def chromium_driver(tmp_path):
    """Headless Debian Chromium through selenium and chromedriver."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not osp.exists(p)]
    if missing:
        pytest.skip(f'{", ".join(missing)} not installed (apt-get install '
                    'chromium chromium-driver; .ci/run does)')
    webdriver = pytest.importorskip('selenium.webdriver')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update', '--disable-sync',
                '--window-size=1200,900', '--lang=zh-CN',
                f'--user-data-dir={tmp_path / "chromium-profile"}'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_browser_text_then_click_image_search(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, _ = server
    driver = chromium_driver(tmp_path)
    try:
        driver.set_page_load_timeout(120)
        driver.get(url)
        assert '图片搜索' in driver.title
        driver.find_element(By.ID, 'q').send_keys('红色的圆形')
        driver.find_element(By.ID, 'go').click()
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: '红色的圆形：' in d.find_element(
            By.ID, 'status').text)
        results = driver.find_elements(By.CSS_SELECTOR, '#results .result')
        assert len(results) == 20
        paths = [r.get_attribute('data-path') for r in results]
        assert all(p.startswith(RED_CIRCLES) for p in paths[:5]), paths
        wait.until(lambda d: d.execute_script(
            "return [...document.querySelectorAll('#results img')]"
            '.every(i => i.complete && i.naturalWidth > 0)'))
        shot = tmp_path / 'gallery.png'
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get('GALLERY_SCREENSHOT'):  # docs/gallery.png
            shutil.copy(shot, os.environ['GALLERY_SCREENSHOT'])
        clicked = paths[3]
        results[3].click()
        wait.until(lambda d: '以图搜图' in d.find_element(By.ID,
                                                       'status').text)
        first = driver.find_element(By.CSS_SELECTOR, '#results .result')
        assert first.get_attribute('data-path') == clicked
        driver.find_element(By.ID, 'next').click()
        wait.until(lambda d: '第 21–' in d.find_element(By.ID,
                                                       'status').text)
    finally:
        driver.quit()
