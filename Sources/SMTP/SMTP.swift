// \(t) module
