internal import CLinux

/// Fills `buffer` from the kernel's CSPRNG in one getrandom(2) call; false when it could not.
public func systemRandomBytes(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
    guard let base = buffer.baseAddress else { return true }
    return clinux_getrandom(base, UInt(buffer.count)) == buffer.count
}
