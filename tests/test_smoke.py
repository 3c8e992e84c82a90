from retrieval.normalize import normalize


def test_normalize_tone_placement():
    assert normalize("Hoà") == normalize("hòa") == "hòa"
