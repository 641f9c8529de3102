/// Reads a `Retry-After` header (RFC 9110 §10.2.3) as a delay.
public enum RetryAfter {
    /// The delay `value` asks for at `now` (milliseconds since the Unix epoch): either whole
    /// seconds (`120`) or an HTTP date in any of the three formats RFC 9110 §5.6.7 makes
    /// recipients accept (`Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
    /// `Sun Nov  6 08:49:37 1994`). A date in the past is no delay; nil for anything else.
    public static func delay(parsing value: some StringProtocol, now: Int64) -> Duration? {
        let text = String(value.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        if !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // More seconds than fit is as good as forever: the policy's bound applies.
            return .seconds(Int64(text) ?? .max)
        }
        guard let date = Self.epochMilliseconds(ofHTTPDate: text) else {
            return nil
        }
        return .milliseconds(max(0, date - now))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Milliseconds since the Unix epoch of an HTTP date.
    static func epochMilliseconds(ofHTTPDate text: String) -> Int64? {
        // IMF-fixdate: [Sun, 06, Nov, 1994, 08:49:37, GMT]; RFC 850: [Sunday, 06, Nov, 94,
        // 08:49:37, GMT]; asctime: [Sun, Nov, 6, 08:49:37, 1994].
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        let day: Int?
        let month: Int?
        let year: Int?
        let time: String
        switch fields.count {
        case 6 where fields[5] == "GMT":
            (day, month, year, time) = (Int(fields[1]), Self.months.firstIndex(of: fields[2]), Int(fields[3]), fields[4])
        case 5:
            (day, month, year, time) = (Int(fields[2]), Self.months.firstIndex(of: fields[1]), Int(fields[4]), fields[3])
        default:
            return nil
        }
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard var year, let month, let day, (0...9999).contains(year), (1...31).contains(day), clock.count == 3, (0...23).contains(clock[0]),
            (0...59).contains(clock[1]), (0...60).contains(clock[2])
        else {
            return nil
        }
        if fields[3].count == 2, fields.count == 6 {
            // RFC 850's two-digit year: RFC 9110 reads one more than 50 years ahead as the past
            // century; Retry-After dates are near, so 19xx/20xx by the usual pivot is enough.
            year += year < 70 ? 2000 : 1900
        }
        let days = Self.daysSinceEpoch(year: year, month: month + 1, day: day)
        return ((days * 24 + Int64(clock[0])) * 60 + Int64(clock[1])) * 60_000 + Int64(clock[2]) * 1000
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int64 {
        let shiftedYear = Int64(month <= 2 ? year - 1 : year)
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = Int64((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
