// One caller's tallies over sliding windows (last minute, hour, day) and since start, in constant
// memory: 60 one-second buckets, 60 one-minute buckets and 24 one-hour buckets (144 tallies of 144
// bytes, ~21 KB a caller). A bucket carries the time unit it counts; a write into a bucket whose
// unit has passed clears it first, so nothing needs a timer. A window sums the buckets whose unit
// lies within it: "last hour" is the current minute and the 59 before it, so a window's edge is
// as coarse as its bucket (1 s, 1 min, 1 h).

/// The windows every figure is shown over.
public enum SavingsWindow: String, Sendable, CaseIterable, Codable {
    case minute = "1m", hour = "1h", day = "24h", total
}

/// Bucketed tallies of one caller.
public struct TallyWindows: Sendable {
    /// A ring of `count` buckets of `unit` seconds each.
    struct Ring: Sendable {
        let unit: Int64
        var stamps: [Int64]
        var tallies: [Tally]

        init(unit: Int64, count: Int) {
            self.unit = unit
            self.stamps = Array(repeating: -1, count: count)
            self.tallies = Array(repeating: Tally(), count: count)
        }

        mutating func add(_ t: Tally, second: Int64) {
            let u = second / self.unit
            let i = Int(u % Int64(self.stamps.count))
            if self.stamps[i] != u {
                self.stamps[i] = u
                self.tallies[i] = Tally()
            }
            self.tallies[i].add(t)
        }

        /// The sum of the buckets of the last `count` units up to `second`'s.
        func sum(second: Int64) -> Tally {
            let u = second / self.unit
            var out = Tally()
            for (stamp, t) in zip(self.stamps, self.tallies) where stamp > u - Int64(self.stamps.count) && stamp <= u { out.add(t) }
            return out
        }

        /// One tally per unit, oldest first, ending at `second`'s unit (empty units included).
        func series(second: Int64) -> [Tally] {
            let u = second / self.unit
            let n = Int64(self.stamps.count)
            return (0..<n).map { k in
                let want = u - n + 1 + k
                let i = Int(((want % n) + n) % n)
                return self.stamps[i] == want ? self.tallies[i] : Tally()
            }
        }
    }

    public private(set) var total = Tally()
    var seconds = Ring(unit: 1, count: 60)
    var minutes = Ring(unit: 60, count: 60)
    var hours = Ring(unit: 3600, count: 24)

    public init() {}

    /// Adds `t`, which happened at `now` (seconds since the epoch).
    public mutating func add(_ t: Tally, now: Double) {
        let s = Int64(now)
        self.total.add(t)
        self.seconds.add(t, second: s)
        self.minutes.add(t, second: s)
        self.hours.add(t, second: s)
    }

    /// The tally of `window` as of `now`.
    public func window(_ window: SavingsWindow, now: Double) -> Tally {
        let s = Int64(now)
        switch window {
        case .minute: return self.seconds.sum(second: s)
        case .hour: return self.minutes.sum(second: s)
        case .day: return self.hours.sum(second: s)
        case .total: return self.total
        }
    }

    /// The last 60 seconds, one tally a second, oldest first.
    public func perSecond(now: Double) -> [Tally] { self.seconds.series(second: Int64(now)) }

    /// The last 60 minutes, one tally a minute, oldest first.
    public func perMinute(now: Double) -> [Tally] { self.minutes.series(second: Int64(now)) }
}
