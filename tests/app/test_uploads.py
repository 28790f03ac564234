"""Uploads to the studio are size-limited."""

import httpx


def test_an_upload_over_the_limit_is_refused_and_a_small_one_accepted(served):
    small = httpx.post(served.url + "gradio_api/upload", files={"files": ("bible.json", b"{}", "application/json")},
                       timeout=30)
    assert small.status_code == 200, small.text
    big = b"x" * (6 * 1024 * 1024)
    refused = httpx.post(served.url + "gradio_api/upload", files={"files": ("bible.json", big, "application/json")},
                         timeout=30)
    assert refused.status_code == 413, (refused.status_code, refused.text[:200])
