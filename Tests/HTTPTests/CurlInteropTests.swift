import Foundation
@testable import HTTP
import TestSupport
import XCTest

/// A real client against the real server: curl, as an operator or a user would run it.
final class CurlInteropTests: ServerTestCase {
    private static let curl = "/usr/bin/curl"

    private struct CurlResult {
        var status: Int32
        var body: String
        var stderr: String
    }

    private var scratch: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        _ = try Prerequisite.executable([Self.curl], "curl", provides: ".ci/run installs it with apt-get install curl")
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("http-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        super.tearDown()
    }

    /// Runs curl with a hard `--max-time` (hang guard) and returns exit status, body and stderr.
    private func runCurl(_ arguments: [String]) throws -> CurlResult {
        let r = try TestProcess.run(Self.curl, ["-sS", "--max-time", "30"] + arguments)
        return CurlResult(status: r.status, body: r.output, stderr: r.errors)
    }

    /// A file of `count` pseudo-random bytes and its FNV-1a hash.
    private func makeUpload(count: Int) throws -> (URL, UInt64) {
        var generator = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let url = scratch.appendingPathComponent("upload.bin")
        try Data(bytes).write(to: url)
        return (url, Self.fnv1a(bytes))
    }

    private static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return hash
    }

    /// Answers `bytes=N fnv=H` for the body and records the request.
    private func startUploadServer(_ seen: Recorder<HTTPRequest>) throws -> HTTPServer {
        try startServer(handler: { request in
            seen.append(request)
            return .text("bytes=\(request.body.count) fnv=\(CurlInteropTests.fnv1a(request.body))")
        })
    }

    func testPostDataBinaryFromFileUsesExpectContinue() throws {
        let seen = Recorder<HTTPRequest>()
        let server = try startUploadServer(seen)
        // curl sends Expect: 100-continue for bodies over 1 MiB and waits for our 100.
        let (file, hash) = try makeUpload(count: 2 << 20)
        let result = try runCurl(["--data-binary", "@\(file.path)", "http://127.0.0.1:\(server.boundPort)/upload"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.body, "bytes=\(2 << 20) fnv=\(hash)")
        let request = try XCTUnwrap(seen.all.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.headers["Expect"]?.lowercased(), "100-continue")
        XCTAssertEqual(request.headers["Content-Length"], String(2 << 20))
    }

    func testPostWithChunkedTransferEncoding() throws {
        let seen = Recorder<HTTPRequest>()
        let server = try startUploadServer(seen)
        let (file, hash) = try makeUpload(count: 300_000)
        let result = try runCurl([
            "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)",
            "http://127.0.0.1:\(server.boundPort)/upload",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.body, "bytes=300000 fnv=\(hash)")
        let request = try XCTUnwrap(seen.all.first)
        XCTAssertEqual(request.headers["Transfer-Encoding"], "chunked")
        XCTAssertNil(request.headers["Content-Length"])
    }

    func testCurlReusesTheKeepAliveConnection() throws {
        let server = try startServer()
        let base = "http://127.0.0.1:\(server.boundPort)"
        let result = try runCurl(["-v", "\(base)/first", "\(base)/second"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.body, "GET /first body=0GET /second body=0")
        XCTAssertTrue(result.stderr.contains("Re-using existing connection"), result.stderr)
    }

    func testCurlOverIPv6AndOversizedUploadIs413() throws {
        try Self.requireIPv6Loopback()
        let server = try startServer(host: "::1", configure: { $0.maxBodyBytes = 1 << 20 })
        let (file, _) = try makeUpload(count: 2 << 20)
        let result = try runCurl([
            "-g", "-w", "%{http_code}", "--data-binary", "@\(file.path)", "http://[::1]:\(server.boundPort)/echo",
        ])
        // 413 comes instead of 100 Continue, so curl never sends the 2 MiB.
        XCTAssertTrue(result.body.hasSuffix("413"), result.body + result.stderr)
        XCTAssertTrue(result.body.contains("content_too_large"), result.body)
    }
}
