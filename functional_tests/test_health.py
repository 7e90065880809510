import httpx


def test_health_and_readiness(base_url: str) -> None:
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    ready = httpx.get(f"{base_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_openapi_and_docs(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert "/runs/{id}/samples" in spec["paths"]
    assert httpx.get(f"{base_url}/docs").status_code == 200


def test_unknown_path_is_a_json_404(base_url: str) -> None:
    response = httpx.get(f"{base_url}/nowhere")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
