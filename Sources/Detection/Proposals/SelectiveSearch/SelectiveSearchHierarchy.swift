/// Hierarchical grouping (Uijlings et al. 2013, algorithm 1): start from a Felzenszwalb
/// segmentation, repeatedly merge the most similar pair of neighbouring regions until one region
/// is left, and record every region's bounding box in creation order (the initial regions first,
/// the whole image last).
///
/// Regions live in flat arrays indexed by region id (initial ids `0..<n`, merged ids `n...`);
/// histograms are L1-normalised rows of one flat buffer, merged as size-weighted means. The
/// candidate pairs sit in a max-heap with lazy deletion: pairs touching a merged region are
/// dropped when they surface.
struct SelectiveSearchHierarchy {
    static let colourBins = 25

    /// Boxes `(x1, y1, x2, y2)`, exclusive ends, in creation order.
    let boxes: [(Int32, Int32, Int32, Int32)]
    /// Depth of each region in the merge tree, parallel to `boxes`: 1 for an initial segment,
    /// `max(level of its parts) + 1` for a merged region.
    let levels: [Int32]

    init(labels: FelzenszwalbLabelMap, colour: SelectiveSearchPlanarImage,
         texture: SelectiveSearchTexture, similarity: SelectiveSearchSimilarity) {
        let w = labels.width, h = labels.height, npx = w * h
        let n = labels.count
        let total = max(2 * n - 1, 1)
        let channels = colour.channels
        let cDim = channels * Self.colourBins
        let tDim = texture.featuresPerPixel * SelectiveSearchTexture.bins
        var size = [Int](repeating: 0, count: total)
        var x1 = [Int32](repeating: Int32.max, count: total), y1 = x1
        var x2 = [Int32](repeating: Int32.min, count: total), y2 = x2
        let useColour = similarity.contains(.colour), useTexture = similarity.contains(.texture)
        var colourHist = [Float](repeating: 0, count: useColour ? total * cDim : 0)
        var textureHist = [Float](repeating: 0, count: useTexture ? total * tDim : 0)

        // Region statistics from the label map.
        labels.labels.withUnsafeBufferPointer { lab in
            for y in 0..<h {
                for x in 0..<w {
                    let r = Int(lab[y * w + x])
                    size[r] += 1
                    x1[r] = min(x1[r], Int32(x)); x2[r] = max(x2[r], Int32(x + 1))
                    y1[r] = min(y1[r], Int32(y)); y2[r] = max(y2[r], Int32(y + 1))
                }
            }
            if useColour {
                colour.values.withUnsafeBufferPointer { v in
                    colourHist.withUnsafeMutableBufferPointer { hist in
                        for c in 0..<channels {
                            for p in 0..<npx {
                                let bin = min(Int(v[c * npx + p] * Float(Self.colourBins) / 256), Self.colourBins - 1)
                                hist[Int(lab[p]) * cDim + c * Self.colourBins + max(bin, 0)] += 1
                            }
                        }
                    }
                }
            }
            if useTexture {
                let per = texture.featuresPerPixel
                texture.bins.withUnsafeBufferPointer { tb in
                    textureHist.withUnsafeMutableBufferPointer { hist in
                        for p in 0..<npx {
                            let base = Int(lab[p]) * tDim
                            for f in 0..<per {
                                hist[base + f * SelectiveSearchTexture.bins + Int(tb[p * per + f])] += 1
                            }
                        }
                    }
                }
            }
        }
        for r in 0..<n where size[r] > 0 {
            if useColour {
                let inv = 1 / Float(size[r] * channels)
                for i in 0..<cDim { colourHist[r * cDim + i] *= inv }
            }
            if useTexture {
                let inv = 1 / Float(size[r] * texture.featuresPerPixel)
                for i in 0..<tDim { textureHist[r * tDim + i] *= inv }
            }
        }

        // Neighbouring pairs (4-connectivity), sorted and unique.
        var pairKeys: [UInt64] = []
        labels.labels.withUnsafeBufferPointer { lab in
            for y in 0..<h {
                for x in 0..<w {
                    let a = lab[y * w + x]
                    if x + 1 < w, case let b = lab[y * w + x + 1], b != a {
                        pairKeys.append(UInt64(UInt32(min(a, b))) << 32 | UInt64(UInt32(max(a, b))))
                    }
                    if y + 1 < h, case let b = lab[(y + 1) * w + x], b != a {
                        pairKeys.append(UInt64(UInt32(min(a, b))) << 32 | UInt64(UInt32(max(a, b))))
                    }
                }
            }
        }
        pairKeys.sort()
        var neighbours = [[Int32]](repeating: [], count: total)
        var heap = SelectiveSearchPairHeap()
        let imageSize = Float(npx)

        func sim(_ a: Int, _ b: Int) -> Float {
            var s: Float = 0
            if useColour {
                var acc: Float = 0
                colourHist.withUnsafeBufferPointer { hist in
                    let pa = hist.baseAddress! + a * cDim, pb = hist.baseAddress! + b * cDim
                    for i in 0..<cDim { acc += min(pa[i], pb[i]) }
                }
                s += acc
            }
            if useTexture {
                var acc: Float = 0
                textureHist.withUnsafeBufferPointer { hist in
                    let pa = hist.baseAddress! + a * tDim, pb = hist.baseAddress! + b * tDim
                    for i in 0..<tDim { acc += min(pa[i], pb[i]) }
                }
                s += acc
            }
            if similarity.contains(.size) {
                s += 1 - Float(size[a] + size[b]) / imageSize
            }
            if similarity.contains(.fill) {
                let bw = Int(max(x2[a], x2[b]) - min(x1[a], x1[b]))
                let bh = Int(max(y2[a], y2[b]) - min(y1[a], y1[b]))
                s += 1 - Float(bw * bh - size[a] - size[b]) / imageSize
            }
            return s
        }

        var previous: UInt64 = .max
        for key in pairKeys where key != previous {
            previous = key
            let a = Int32(truncatingIfNeeded: key >> 32), b = Int32(truncatingIfNeeded: key & 0xFFFF_FFFF)
            neighbours[Int(a)].append(b)
            neighbours[Int(b)].append(a)
            heap.push(sim(Int(a), Int(b)), a, b)
        }

        // Greedy merging.
        var alive = [Bool](repeating: true, count: total)
        var level = [Int32](repeating: 1, count: total)
        var stamp = [Int32](repeating: -1, count: total)
        var next = n
        while let (_, a32, b32) = heap.pop() {
            let a = Int(a32), b = Int(b32)
            if !alive[a] || !alive[b] { continue }
            let t = next
            next += 1
            alive[a] = false
            alive[b] = false
            size[t] = size[a] + size[b]
            level[t] = max(level[a], level[b]) + 1
            x1[t] = min(x1[a], x1[b]); y1[t] = min(y1[a], y1[b])
            x2[t] = max(x2[a], x2[b]); y2[t] = max(y2[a], y2[b])
            let wa = Float(size[a]) / Float(size[t]), wb = Float(size[b]) / Float(size[t])
            if useColour {
                for i in 0..<cDim {
                    colourHist[t * cDim + i] = wa * colourHist[a * cDim + i] + wb * colourHist[b * cDim + i]
                }
            }
            if useTexture {
                for i in 0..<tDim {
                    textureHist[t * tDim + i] = wa * textureHist[a * tDim + i] + wb * textureHist[b * tDim + i]
                }
            }
            var merged: [Int32] = []
            for u in neighbours[a] + neighbours[b] where alive[Int(u)] && stamp[Int(u)] != Int32(t) {
                stamp[Int(u)] = Int32(t)
                merged.append(u)
            }
            neighbours[a] = []
            neighbours[b] = []
            for u in merged {
                neighbours[Int(u)].removeAll { !alive[Int($0)] }
                neighbours[Int(u)].append(Int32(t))
                heap.push(sim(t, Int(u)), Int32(t), u)
            }
            neighbours[t] = merged
        }

        var boxes: [(Int32, Int32, Int32, Int32)] = []
        var levels: [Int32] = []
        boxes.reserveCapacity(next)
        levels.reserveCapacity(next)
        for r in 0..<next where size[r] > 0 {
            boxes.append((x1[r], y1[r], x2[r], y2[r]))
            levels.append(level[r])
        }
        self.boxes = boxes
        self.levels = levels
    }
}

/// A binary max-heap of (similarity, region, region), ties broken by insertion order.
struct SelectiveSearchPairHeap {
    private var sims: [Float] = []
    private var orders: [Int32] = []
    private var firsts: [Int32] = []
    private var seconds: [Int32] = []
    private var inserted: Int32 = 0

    @inline(__always)
    private func above(_ i: Int, _ j: Int) -> Bool {
        sims[i] > sims[j] || (sims[i] == sims[j] && orders[i] < orders[j])
    }

    private mutating func swapAt(_ i: Int, _ j: Int) {
        sims.swapAt(i, j); orders.swapAt(i, j); firsts.swapAt(i, j); seconds.swapAt(i, j)
    }

    mutating func push(_ sim: Float, _ a: Int32, _ b: Int32) {
        sims.append(sim); orders.append(inserted); firsts.append(a); seconds.append(b)
        inserted += 1
        var i = sims.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !above(i, parent) { break }
            swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Float, Int32, Int32)? {
        guard !sims.isEmpty else { return nil }
        let top = (sims[0], firsts[0], seconds[0])
        let last = sims.count - 1
        swapAt(0, last)
        sims.removeLast(); orders.removeLast(); firsts.removeLast(); seconds.removeLast()
        var i = 0
        let count = sims.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < count && above(l, best) { best = l }
            if r < count && above(r, best) { best = r }
            if best == i { break }
            swapAt(i, best)
            i = best
        }
        return top
    }
}
