/// A JSON number: the exact text it was written as, and its value as an exact decimal.
///
/// Equality and order compare the exact decimal values, so `1`, `1.0` and `10e-1` are equal and
/// `0.1` is below `0.10000000000000001` even though both round to the same `Double`.
public struct JSONNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The number exactly as written in the source.
    public let text: String
    /// The nearest `Double`; magnitudes beyond its range become infinity or zero.
    public let double: Double
    /// The exact value as an `Int64` when it is integral and fits, whatever its spelling (`1.0`, `1e2`).
    public let int64: Int64?

    // The value is (isNegative ? -1 : 1) × digits × 10^exponent, with `digits` free of leading
    // and trailing zeros (empty for zero), so equal values have equal fields.
    private let isNegative: Bool
    private let digits: [UInt8]
    private let exponent: Int

    /// Whether the value is integral, exactly (`1.0` is, `1.5e1` is, `1e-1` is not), however large.
    public var isInteger: Bool {
        self.exponent >= 0
    }

    /// `text` is the number's source, which `JSONScanner` has validated.
    init(validatedText text: UnsafeRawBufferPointer) {
        self.text = String(decoding: text, as: UTF8.self)
        // JSON number syntax is a subset of what `Double.init?(_:)` accepts.
        self.double = Double(self.text)!
        var digits: [UInt8] = []
        var fractionDigits = 0
        var explicitExponent = 0
        var index = 0
        self.isNegative = text[0] == UInt8(ascii: "-")
        if self.isNegative {
            index += 1
        }
        var inFraction = false
        while index < text.count {
            let byte = text[index]
            index += 1
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte | 0x20 == UInt8(ascii: "e") {
                explicitExponent = Self.parseExponent(UnsafeRawBufferPointer(rebasing: text[index...]))
                break
            } else {
                // Leading zeros carry no value.
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) {
                    digits.append(byte &- UInt8(ascii: "0"))
                }
                if inFraction {
                    fractionDigits += 1
                }
            }
        }
        var exponent = explicitExponent - fractionDigits
        while digits.last == 0 {
            digits.removeLast()
            exponent += 1
        }
        self.digits = digits
        self.exponent = digits.isEmpty ? 0 : exponent
        self.int64 = Self.exactInt64(isNegative: self.isNegative, digits: digits, exponent: self.exponent)
    }

    /// The number as written.
    public var description: String {
        self.text
    }

    /// Whether both are the same decimal value, however written.
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.isNegative == rhs.isNegative && lhs.digits == rhs.digits && lhs.exponent == rhs.exponent
            || lhs.digits.isEmpty && rhs.digits.isEmpty
    }

    /// Hashes the decimal value, consistently with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.digits.isEmpty ? false : self.isNegative)
        hasher.combine(self.digits)
        hasher.combine(self.exponent)
    }

    /// Whether `lhs` is the smaller decimal value.
    public static func < (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        let lhsSign = lhs.digits.isEmpty ? 0 : (lhs.isNegative ? -1 : 1)
        let rhsSign = rhs.digits.isEmpty ? 0 : (rhs.isNegative ? -1 : 1)
        guard lhsSign == rhsSign else {
            return lhsSign < rhsSign
        }
        guard lhsSign != 0 else {
            return false
        }
        let magnitudeIsLess = Self.magnitudeIsLess(lhs, rhs)
        return lhsSign > 0 ? magnitudeIsLess : Self.magnitudeIsLess(rhs, lhs)
    }

    /// Compares two non-zero magnitudes: first by the position of the leading digit, then digit by digit.
    private static func magnitudeIsLess(_ lhs: JSONNumber, _ rhs: JSONNumber) -> Bool {
        let lhsLeading = lhs.exponent + lhs.digits.count
        let rhsLeading = rhs.exponent + rhs.digits.count
        guard lhsLeading == rhsLeading else {
            return lhsLeading < rhsLeading
        }
        // Without trailing zeros, a digit sequence that is a prefix of the other is smaller.
        return lhs.digits.lexicographicallyPrecedes(rhs.digits)
    }

    /// Reads `[+-]?[0-9]+`, saturating far beyond any exponent a real document needs, so that
    /// exponent arithmetic on it cannot overflow.
    private static func parseExponent(_ text: UnsafeRawBufferPointer) -> Int {
        let isNegative = text.first == UInt8(ascii: "-")
        var value = 0
        for byte in text where byte != UInt8(ascii: "+") && byte != UInt8(ascii: "-") {
            value = min(value * 10 + Int(byte &- UInt8(ascii: "0")), Int(Int32.max))
        }
        return isNegative ? -value : value
    }

    private static func exactInt64(isNegative: Bool, digits: [UInt8], exponent: Int) -> Int64? {
        guard exponent >= 0, digits.count + exponent <= 19 else {
            return digits.isEmpty ? 0 : nil
        }
        return Int64(decimalDigits: digits + repeatElement(0, count: exponent), isNegative: isNegative)
    }
}

extension Int64 {
    /// The integer whose decimal digits (values 0 to 9, most significant first) are `digits`;
    /// nil when one is not a digit or the value does not fit.
    init?(decimalDigits digits: some Sequence<UInt8>, isNegative: Bool) {
        // Accumulate downwards so that Int64.min, one larger in magnitude than Int64.max, fits.
        var negated: Int64 = 0
        for digit in digits {
            guard digit < 10 else {
                return nil
            }
            let (shifted, shiftOverflow) = negated.multipliedReportingOverflow(by: 10)
            let (next, digitOverflow) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !shiftOverflow, !digitOverflow else {
                return nil
            }
            negated = next
        }
        if isNegative {
            self = negated
        } else {
            let (value, overflow) = Int64(0).subtractingReportingOverflow(negated)
            guard !overflow else {
                return nil
            }
            self = value
        }
    }
}
