extension RegionProposalNetwork {
    /// Indices of the `k` largest values, largest first, ordered as `torch.topk` orders them: NaN
    /// above every number, -0 equal to +0, ties by lower index first.
    ///
    /// The k-th largest value is found by a two-pass radix selection on order-preserving 32-bit
    /// keys (linear in the count, with no worst case on tied or adversarial scores), so only the
    /// selected `k` indices are sorted; the RPN's finest level has about 160,000 anchors of which
    /// 1,000 are kept.
    static func topK(_ v: [Float], _ k: Int) -> [Int] {
        let keys = v.map(orderKey)
        let before: (Int, Int) -> Bool = { keys[$0] > keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
        if k <= 0 { return [] }
        if k >= v.count { return v.indices.sorted(by: before) }
        let kth = kthLargest(keys, k)
        var idx: [Int] = []
        idx.reserveCapacity(k)
        var ties = k - keys.reduce(0) { $1 > kth ? $0 + 1 : $0 }
        for i in keys.indices {
            if keys[i] > kth {
                idx.append(i)
            } else if keys[i] == kth && ties > 0 {
                idx.append(i)
                ties -= 1
            }
        }
        idx.sort(by: before)
        return idx
    }

    /// A key whose unsigned order is the float order: NaN above +infinity, -0 mapped to +0.
    @inline(__always) static func orderKey(_ x: Float) -> UInt32 {
        if x.isNaN { return .max }
        let bits = (x == 0 ? Float(0) : x).bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// The k-th largest key (1 <= k <= keys.count): the high 16 bits from one histogram, then the
    /// low 16 bits among the keys that share them.
    static func kthLargest(_ keys: [UInt32], _ k: Int) -> UInt32 {
        var counts = [Int](repeating: 0, count: 1 << 16)
        for key in keys { counts[Int(key >> 16)] += 1 }
        var need = k, high = (1 << 16) - 1
        while counts[high] < need {
            need -= counts[high]
            high -= 1
        }
        for i in counts.indices { counts[i] = 0 }
        for key in keys where Int(key >> 16) == high { counts[Int(key & 0xFFFF)] += 1 }
        var low = (1 << 16) - 1
        while counts[low] < need {
            need -= counts[low]
            low -= 1
        }
        return UInt32(high) << 16 | UInt32(low)
    }
}
