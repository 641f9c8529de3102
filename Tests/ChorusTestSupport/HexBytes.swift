public import NIOCore

extension ByteBuffer {
    /// The bytes a test vector writes as hex (`"0100027b7d"`): two digits a byte, no separators.
    public init(hex: String) {
        self.init()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            self.writeInteger(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
    }
}
