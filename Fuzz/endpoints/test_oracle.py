"""Unit tests of the endpoint fuzzer's parts that need no server: the oracle must flag bad
responses and pass good ones, the JSON writer must write what the mutators mean, and a seed's
mutations must repeat for the same seed. Run: python3 Fuzz/endpoints/test_oracle.py
"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oracle  # noqa: E402
from http_wire import Obj, Raw, Response, emit_json  # noqa: E402
from mutations import Mutator  # noqa: E402
from seeds import Images, Seeds  # noqa: E402

V1_ERR = b'{"error":{"code":"bad_request","message":"x"}}'
V2_ERR = b'{"error":"x"}'


def resp(status, body=b"", **headers):
    h = {"content-type": "application/json"}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return Response(status, h, body)


class OracleTests(unittest.TestCase):
    def test_statuses(self):
        self.assertIsNone(oracle.check("POST", "/v1/detect", False, resp(400, V1_ERR)))
        self.assertIn("server error", oracle.check("POST", "/v1/detect", False, resp(500, V1_ERR)))
        self.assertIn("server error", oracle.check("GET", "/healthz", False, resp(502, V1_ERR)))
        self.assertIn("Retry-After", oracle.check("POST", "/v1/detect", False, resp(503, V1_ERR)))
        self.assertIsNone(oracle.check("POST", "/v1/detect", False, resp(503, V1_ERR, retry_after="1")))
        self.assertIn("Allow", oracle.check("GET", "/v1/detect", False, resp(405, V1_ERR)))
        self.assertIn("unexpected status", oracle.check("GET", "/healthz", False, resp(302, b"")))
        self.assertIn("unexpected status", oracle.check("GET", "/healthz", False, resp(204, b"")))
        self.assertIsNone(oracle.check("OPTIONS", "/healthz", False, resp(204, b"")))

    def test_error_shapes(self):
        infer = "/v2/models/m/infer"
        self.assertIsNone(oracle.check("POST", infer, False, resp(400, V2_ERR)))
        self.assertIn("v1 error shape", oracle.check("POST", infer, False, resp(400, V1_ERR)))
        self.assertIsNone(oracle.check("POST", infer, True, resp(400, V1_ERR)))    # parser answered a mutated head
        self.assertIsNone(oracle.check("POST", infer, False, resp(413, V1_ERR)))   # parser's body limit
        self.assertIn("open-inference error shape", oracle.check("POST", "/v1/detect", False, resp(422, V2_ERR)))
        self.assertIn("not JSON", oracle.check("POST", "/v1/detect", False, resp(400, b"oops")))
        self.assertIn("malformed", oracle.check("POST", "/v1/detect", False, resp(400, b'{"error":{"code":1}}')))
        self.assertIsNone(oracle.check("GET", "//v2", False, resp(405, V2_ERR, allow="GET")))
        self.assertIsNone(oracle.check("GET", "/v2/models/\u00e9", False, resp(400, V1_ERR)))  # raw non-ASCII: the parser's 400

    def test_success_bodies(self):
        self.assertIsNone(oracle.check("POST", "/v1/detect", False, resp(200, b'{"detections":[]}')))
        self.assertIn("detections", oracle.check("POST", "/v1/models/m/detect", False, resp(200, b'{"x":1}')))
        png = Response(200, {"content-type": "image/png"}, b"\x89PNG\r\n\x1a\n...")
        self.assertIsNone(oracle.check("POST", "/v1/detect?format=png", False, png))
        self.assertIn("not a PNG", oracle.check("POST", "/v1/detect", False, Response(200, {"content-type": "image/png"}, b"GIF8")))
        self.assertIsNone(oracle.check("POST", "/v2/models/m/versions/1/infer", False, resp(200, b'{"model_name":"m","outputs":[]}')))
        self.assertIn("outputs", oracle.check("POST", "/v2/models/m/infer", False, resp(200, b'{"model_name":"m"}')))

    def test_route(self):
        self.assertEqual(oracle.route("/v2/models/x/versions/1/infer"), "/v2/models/{name}/versions/{version}/infer")
        self.assertEqual(oracle.route("//v1//detect/"), "/v1/detect")
        self.assertIsNone(oracle.route("/v1/detect/x"))
        self.assertEqual(oracle.decoded_path("http://h/v1/%64etect?x=1"), "/v1/detect")


class WireTests(unittest.TestCase):
    def test_emit_json(self):
        v = {"a": [Raw("1e300"), float("nan"), 2 ** 64, -0.0], "o": Obj([("k", 1), ("k", Raw("NaN"))]), "s": "\u00e9"}
        self.assertEqual(emit_json(v), '{"a":[1e300,NaN,18446744073709551616,-0.0],"o":{"k":1,"k":NaN},"s":"\\u00e9"}')
        self.assertEqual(emit_json({"s": "\u00e9"}, ascii_only=False), '{"s":"\u00e9"}')

    def test_reproducible(self):
        images = Images()

        def stream(seed):
            rng = random.Random(seed)
            s = Seeds(rng, images)
            s.decoy = True
            m = Mutator(rng, s)
            return [m.mutate(s.any(), [], 0.3).encode() for _ in range(200)]
        self.assertEqual(stream("7:0"), stream("7:0"))
        self.assertNotEqual(stream("7:0"), stream("7:1"))


class PoolTests(unittest.TestCase):
    def test_pools_never_change(self):
        # Values drawn from the module's pools are copied: mutating a request must not edit a pool
        # (a shared {"": None} once had itself nested into it, a cycle the JSON writer recursed on).
        import copy
        import mutations
        before = copy.deepcopy((mutations.EXTREMES, mutations.SHAPES))
        rng = random.Random(3)
        s = Seeds(rng, Images())
        m = Mutator(rng, s)
        for i in range(4000):
            s.decoy = i % 2 == 0
            m.mutate(s.any(), [], 0.3).encode()
        self.assertEqual(repr(before), repr((mutations.EXTREMES, mutations.SHAPES)))


if __name__ == "__main__":
    unittest.main()
