import XCTest

/// Fails when `actual` and `expected` differ in length or any element by more than 1e-6 (the
/// agreement asked of the evaluator with pycocotools), naming the worst element.
func assertClose(_ actual: [Double], _ expected: [Double], _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
    var worst = 0.0, worstIndex = -1
    for (index, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > worst {
        worst = abs(a - e)
        worstIndex = index
    }
    XCTAssertLessThanOrEqual(worst, 1e-6, "\(label): index \(worstIndex) is \(worstIndex >= 0 ? actual[worstIndex] : 0), pycocotools \(worstIndex >= 0 ? expected[worstIndex] : 0)", file: file, line: line)
}
