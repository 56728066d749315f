/// Seconds as people write them in reasons: "10", "1.5".
func formatSeconds(_ seconds: Double) -> String {
    let rounded = seconds.rounded()
    if abs(seconds - rounded) < 0.05 || seconds >= 100 { return String(Int(rounded)) }
    return String(Double(Int((seconds * 10).rounded())) / 10)
}
