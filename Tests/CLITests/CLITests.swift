import Foundation
import TestSupport
import XCTest

/// The `rcnn` binary itself: `detect`, `eval`, and `serve` with real clients, concurrency and a
/// SIGTERM while a request is in flight. Timeouts only guard against hangs.
final class CLITests: XCTestCase {
    static let sample = Repository.url("Samples/shapes_val_0000.jpg").path
    static let model = Repository.url("Config/models/shapes_mask_rcnn.json").path

    /// The `rcnn` executable built next to this test bundle.
    var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var url = dir.appendingPathComponent("rcnn")
        if !FileManager.default.isExecutableFile(atPath: url.path) {
            url = dir.deletingLastPathComponent().appendingPathComponent("rcnn")
        }
        return url.path
    }

    /// Runs a program from the repository root with `env` added to the environment.
    @discardableResult
    func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        try TestProcess.run(exe, args, environment: env, directory: Repository.root)
    }

    func testDetectPrintsTheDocumentAndFailsClearly() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "rcnn not built at \(binary)")
        let r = try run(binary, ["detect", "--config", Self.model, Self.sample, "--score-threshold", "0.01", "--max-detections", "5"])
        XCTAssertEqual(r.status, 0, r.errors)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(doc["model"] as? String, "shapes_mask_rcnn")
        XCTAssertEqual((doc["detections"] as? [Any])?.count, 5)
        // The default model is found from the repository root without --config.
        XCTAssertEqual(try run(binary, ["detect", Self.sample, "--no-masks"]).status, 0)

        let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-corrupt-\(getpid()).jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2, 3]).write(to: corrupt)
        defer { try? FileManager.default.removeItem(at: corrupt) }
        // Bad input is a usage error (ArgumentParser's ValidationError: exit 64, EX_USAGE) whose
        // first line names the file and the decoder's reason.
        let bad = try run(binary, ["detect", corrupt.path])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.errors.hasPrefix("Error: \(corrupt.path): corrupt JPEG image: premature end of JPEG data (truncated file)\n"),
                      bad.errors)
        let missing = try run(binary, ["detect", "/nonexistent.jpg"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.errors.hasPrefix("Error: cannot read /nonexistent.jpg: "), missing.errors)
        let badWeights = try run(binary, ["detect", "--config", "/nonexistent.json", Self.sample])
        XCTAssertEqual(badWeights.status, 64)
        XCTAssertTrue(badWeights.errors.hasPrefix("Error: /nonexistent.json: cannot read: "), badWeights.errors)
    }

    func testEvalPrintsTwelveNumbersPerIoUType() throws {
        let r = try run(binary, ["eval", "--annotations", "Samples/instances_samples.json", "--images", "Samples", "--json",
                                 "--score-threshold", "0.01"])
        XCTAssertEqual(r.status, 0, r.errors)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: [String: Double]])
        XCTAssertEqual(report["bbox"]?.count, 12)
        XCTAssertEqual(report["segm"]?.count, 12)
        // The default model has a keypoint head and the samples carry keypoints: ten OKS numbers.
        XCTAssertEqual(report["keypoints"].map { Set($0.keys) }, Set(["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]))
        XCTAssertGreaterThan(report["keypoints"]?["AP"] ?? 0, 0)
        // --no-keypoints: the same boxes and masks, keypoints neither run nor scored.
        let off = try run(binary, ["eval", "--annotations", "Samples/instances_samples.json", "--images", "Samples", "--json",
                                   "--score-threshold", "0.01", "--no-keypoints"])
        XCTAssertEqual(off.status, 0, off.errors)
        let plain = try XCTUnwrap(try JSONSerialization.jsonObject(with: off.stdout) as? [String: [String: Double]])
        XCTAssertEqual(Set(plain.keys), ["bbox", "segm"])
        XCTAssertEqual(plain["bbox"], report["bbox"])
        XCTAssertEqual(plain["segm"], report["segm"])
    }

    /// `rcnn detect` prints each detection's keypoints and `rcnn models` the keypoint names and
    /// skeleton of the default model.
    func testDetectAndModelsShowKeypoints() throws {
        let r = try run(binary, ["detect", Self.sample, "--score-threshold", "0.3", "--no-masks"])
        XCTAssertEqual(r.status, 0, r.errors)
        let items = try XCTUnwrap((try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])?["detections"] as? [[String: Any]])
        XCTAssertFalse(items.isEmpty)
        for item in items {
            let k = try XCTUnwrap(item["keypoints"] as? [[Double]], "no keypoints in \(item)")
            XCTAssertEqual(k.count, 4)
            XCTAssertTrue(k.allSatisfy { $0.count == 3 })
        }
        let off = try run(binary, ["detect", Self.sample, "--score-threshold", "0.3", "--no-masks", "--no-keypoints"])
        XCTAssertEqual(off.status, 0, off.errors)
        let plain = try XCTUnwrap((try JSONSerialization.jsonObject(with: off.stdout) as? [String: Any])?["detections"] as? [[String: Any]])
        XCTAssertEqual(plain.map { $0["box"] as? [Double] }, items.map { $0["box"] as? [Double] }, "--no-keypoints keeps the detections")
        XCTAssertTrue(plain.allSatisfy { $0["keypoints"] == nil }, "--no-keypoints leaves keypoints out")
        let m = try run(binary, ["models"])
        XCTAssertEqual(m.status, 0, m.errors)
        let text = String(decoding: m.stdout, as: UTF8.self)
        XCTAssertTrue(text.contains("keypoints (4): top, right, bottom, left"), text)
        XCTAssertTrue(text.contains("skeleton: top-right, right-bottom, bottom-left, left-top"), text)
    }

    /// Starts `rcnn serve` on an ephemeral port; returns the process, its port and its stderr pipe.
    func startServer(env: [String: String] = [:], models: [String] = [CLITests.model],
                     scheduling: [String] = ["--workers", "2", "--queue-depth", "16"]) throws -> (Process, Int, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"] + models.flatMap { ["--model", $0] } + scheduling
        p.currentDirectoryURL = Repository.root
        p.environment = ProcessInfo.processInfo.environment.merging(["RCNN_WARMUP_RUNS": "1", "RCNN_ACCESS_LOG": "1"].merging(env) { $1 }) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Read the log until the "listening on HOST:PORT" line.
        var buffer = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            if let r = buffer.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let port = Int(buffer[r].split(separator: ":").last!)!
                return (p, port, err)
            }
        }
        p.terminate()
        XCTFail("server did not report its port: \(buffer)")
        throw CocoaError(.fileReadUnknown)
    }

    /// Polls the server's `/readyz` every 100 ms until it answers 200 (true) or a minute passes
    /// (false; a hang guard, not a speed assertion).
    func waitUntilReady(port: Int) -> Bool {
        for _ in 0..<600 {
            if (try? curl(["http://127.0.0.1:\(port)/readyz"]).0) == 200 { return true }
            usleep(100_000)
        }
        return false
    }

    func curl(_ args: [String]) throws -> (Int, Data) {
        let r = try run("/usr/bin/curl", ["-s", "--max-time", "120", "-w", "\n%{http_code}"] + args)
        let nl = r.stdout.lastIndex(of: UInt8(ascii: "\n")) ?? r.stdout.endIndex
        return (Int(String(decoding: r.stdout[(nl < r.stdout.endIndex ? nl + 1 : nl)...], as: UTF8.self)) ?? 0, Data(r.stdout[..<nl]))
    }

    /// When OpenBLAS loaded SSE-only kernels (simulated with RCNN_BLAS_ASSUME_CORE) on a CPU with
    /// AVX2 or AVX-512, the tool re-executes itself with OPENBLAS_CORETYPE set; a user's own
    /// OPENBLAS_CORETYPE is left alone.
    func testSlowBLASKernelsAreReplacedAtStart() throws {
        try Prerequisite.require(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
                                 "a test environment without OPENBLAS_CORETYPE (it is set, and the tool leaves a user's choice alone, so the replacement cannot be observed)",
                                 provides: ".ci/run does not set it; unset it for the test run")
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        let expected: String? = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) ? "SkylakeX"
            : (flags.contains("avx2") && flags.contains("fma")) ? "Haswell" : nil
        let args = ["bench", "--size", "64x64", "--runs", "1", "--warmup", "0", "--threads", "1"]
        let assumed = try run(binary, args, env: ["RCNN_BLAS_ASSUME_CORE": "Prescott"])
        XCTAssertEqual(assumed.status, 0, assumed.errors)
        let header = assumed.output.split(separator: "\n").first.map(String.init) ?? ""
        if let expected {
            XCTAssertTrue(header.contains("BLAS \(expected) (OpenBLAS chose Prescott at load; rcnn set OPENBLAS_CORETYPE=\(expected)"), header)
        } else {
            XCTAssertFalse(header.contains("OPENBLAS_CORETYPE"), header)
        }
        let userChoice = try run(binary, args, env: ["OPENBLAS_CORETYPE": "Prescott"])
        let userHeader = userChoice.output.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(userHeader.contains("BLAS Prescott;"), userHeader)
    }

    /// `rcnn bench` reports how many regions the box head classified (the RPN's proposals after its
    /// NMS, at most post_nms_top_n_test), in the JSON and in the header line, so that a time can be
    /// read beside the work done.
    func testBenchReportsTheBoxHeadsRegions() throws {
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.model))) as? [String: Any])
        let limit = try XCTUnwrap((config["rpn"] as? [String: Any])?["post_nms_top_n_test"] as? Int)
        let args = ["bench", "--size", "200x150", "--runs", "1", "--warmup", "0", "--threads", "1", "--pipeline", "faster"]
        let json = try run(binary, args + ["--format", "json"])
        XCTAssertEqual(json.status, 0, json.errors)
        let out = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let proposals = try XCTUnwrap(out["proposals"] as? Int, json.output)
        XCTAssertGreaterThan(proposals, 0)
        XCTAssertLessThanOrEqual(proposals, limit)
        let text = try run(binary, args)
        XCTAssertEqual(text.status, 0, text.errors)
        XCTAssertTrue(text.output.contains("; \(proposals) proposals, "), text.output)
    }

    /// `--model` replaces Config/server.json's list, so that file's `default_model` (a model not
    /// in the new list) must not stop the server: the first named model becomes the default.
    /// A temporary directory (the caller removes it) with `NAME.json`: the embedded default model
    /// under another name, on the same weights file.
    func renamedDefaultModel(_ name: String) throws -> (directory: URL, config: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.model))) as? [String: Any])
        config["name"] = name
        config["weights"] = Repository.url("Weights/shapes_mask_rcnn.safetensors").path
        let url = dir.appendingPathComponent("\(name).json")
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return (dir, url)
    }

    func testServeModelFlagReplacesTheConfigsDefault() throws {
        let (dir, renamed) = try renamedDefaultModel("renamed_default")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, port, _) = try startServer(models: [renamed.path])
        defer { server.terminate(); server.waitUntilExit() }
        let (status, body) = try curl(["http://127.0.0.1:\(port)/v1/models"])
        XCTAssertEqual(status, 200)
        let text = String(decoding: body, as: UTF8.self)
        XCTAssertTrue(text.contains("renamed_default"), text)
        XCTAssertFalse(text.contains("\"shapes_mask_rcnn\""), text)
    }

    func testServeConcurrentClientsAndSIGTERMWithARequestInFlight() throws {
        let (server, port, err) = try startServer()
        defer { if server.isRunning { server.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        // Ready after warm-up.
        XCTAssertTrue(waitUntilReady(port: port))

        // Eight concurrent clients get the same, correct answer.
        let url = "\(base)/v1/detect?score_threshold=0.01&max_detections=10"
        var answers = [Data?](repeating: nil, count: 8)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let r = try? self.curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(Self.sample)", url])
            lock.lock(); answers[i] = r?.0 == 200 ? r?.1 : nil; lock.unlock()
        }
        let scores = answers.map { a -> [Double]? in
            guard let a, let doc = try? JSONSerialization.jsonObject(with: a) as? [String: Any],
                  let dets = doc["detections"] as? [[String: Any]] else { return nil }
            return dets.map { $0["score"] as! Double }
        }
        XCTAssertTrue(scores.allSatisfy { $0 != nil }, "some concurrent request failed")
        XCTAssertEqual(Set(scores.compactMap { $0 }).count, 1, "concurrent answers differ")

        // A request in flight when SIGTERM arrives is still answered; then the process exits 0.
        let inflight = DispatchGroup()
        var status = 0
        DispatchQueue.global().async(group: inflight) {
            // Upload slowly (about 1.5 s for the body) so the signal lands while the request is
            // still being received, whatever the machine's inference speed.
            status = (try? self.curl(["--limit-rate", "12k", "-H", "Content-Type: image/jpeg", "--data-binary", "@\(Self.sample)", url]).0) ?? -1
        }
        usleep(500_000)
        kill(server.processIdentifier, SIGTERM)
        XCTAssertEqual(inflight.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(status, 200)
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(log.contains("POST /v1/detect"), "access log: \(log)")
    }

    /// The hostile-client suite (Tests/Hostile/hostile_clients.py) against the real binary: request
    /// smuggling, header floods, bad paths, slowloris, disconnects, decompression bombs and a flood
    /// of 2000 connections, while a legitimate client keeps detecting; the server stays up, answers
    /// it, and its memory returns to the baseline.
    func testHostileClients() throws {
        let (server, port, err) = try startServer(env: [
            "RCNN_MAX_CONNECTIONS": "64", "RCNN_READ_TIMEOUT_S": "2", "RCNN_MAX_IMAGE_PIXELS": "16000000",
            "RCNN_ACCESS_LOG": "0",
            // No deadline 503s: sanitizer builds run inference many times slower.
            "RCNN_REQUEST_TIMEOUT_MS": "900000"])
        defer { if server.isRunning { server.terminate() } }
        // Keep the log pipe drained: the suite makes the server log a lot of refused connections.
        DispatchQueue.global().async { _ = err.fileHandleForReading.readDataToEndOfFile() }
        XCTAssertTrue(waitUntilReady(port: port))
        let r = try run("/usr/bin/python3", [Repository.url("Tests/Hostile/hostile_clients.py").path,
                                             "--port", "\(port)", "--pid", "\(server.processIdentifier)", "--image", Self.sample,
                                             "--max-connections", "64", "--read-timeout", "2",
                                             // sanitizer runs set a longer one (Docs/sanitizers.md)
                                             "--detect-timeout", ProcessInfo.processInfo.environment["RCNN_TEST_DETECT_TIMEOUT"] ?? "120"])
        let report = r.output + r.errors
        print(report)
        XCTAssertEqual(r.status, 0, report)
        XCTAssertTrue(report.contains("0 failed check(s)"), report)
        XCTAssertTrue(server.isRunning)
    }
}
