// Failed authentications: a GCRA per client address and one counted audit entry per window for identical
// failures, on an injected clock.

import Foundation
import MLSecAccess
import MLSecAudit
import MLSecGateway
import Testing

@Suite("failed authentications: per-address limit, counted entries")
struct FailedAuthenticationsTests {
    @Test("identical failures in a window: the first is audited, the rest become one counted entry when it ends")
    func aggregation() {
        let clock = ManualClock()
        let failures = FailedAuthentications(limit: RateLimit(requestsPerSecond: 1000, burst: 1000), window: .seconds(60),
                                             clock: clock.read)
        #expect(failures.failure(address: "203.0.113.9", kind: "api key unknown", resource: "/v2").record)
        for _ in 0..<99 {
            let verdict = failures.failure(address: "203.0.113.9", kind: "api key unknown", resource: "/v2")
            #expect(!verdict.record && verdict.due.isEmpty && verdict.retryAfter == nil)
        }
        // Another kind, another address: audited on their own.
        #expect(failures.failure(address: "203.0.113.9", kind: "no bearer credential", resource: "/v2").record)
        #expect(failures.failure(address: "198.51.100.1", kind: "api key unknown", resource: "/v2").record)
        #expect(failures.due().isEmpty)
        clock.advance(61)
        let due = failures.due()
        #expect(due.count == 1)
        #expect(due.first?.reason == "99 more identical failures from 203.0.113.9 within 60 s: api key unknown")
        #expect(failures.due().isEmpty)
        // A new window opens with an audited failure again.
        #expect(failures.failure(address: "203.0.113.9", kind: "api key unknown", resource: "/v2").record)
        #expect(failures.failure(address: "203.0.113.9", kind: "api key unknown", resource: "/v2").record == false)
        #expect(failures.due(all: true).count == 1)
    }

    @Test("past its budget an address gets 429 with a retry time; other addresses are not affected")
    func perAddressLimit() {
        let clock = ManualClock()
        let failures = FailedAuthentications(limit: RateLimit(requestsPerSecond: 1, burst: 5), window: .seconds(60), clock: clock.read)
        for _ in 0..<5 { #expect(failures.failure(address: "192.0.2.7", kind: "api key unknown", resource: "/").retryAfter == nil) }
        let limited = failures.failure(address: "192.0.2.7", kind: "api key unknown", resource: "/")
        #expect((limited.retryAfter ?? 0) >= 1 && limited.record)  // the first refusal of its kind is audited
        #expect(!failures.failure(address: "192.0.2.7", kind: "api key unknown", resource: "/").record)
        #expect(failures.failure(address: "192.0.2.8", kind: "api key unknown", resource: "/").retryAfter == nil)
        clock.advance(2)
        #expect(failures.failure(address: "192.0.2.7", kind: "api key unknown", resource: "/").retryAfter == nil)
    }

    @Test("IPv6 addresses share a budget per /64; IPv4 per address")
    func addressKeys() {
        #expect(FailedAuthentications.addressKey("2001:db8:1:2::5") == "2001:db8:1:2::/64")
        #expect(FailedAuthentications.addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64")
        #expect(FailedAuthentications.addressKey("2001:db8::1") == "2001:db8:0:0::/64")
        #expect(FailedAuthentications.addressKey("::1") == "0:0:0:0::/64")
        #expect(FailedAuthentications.addressKey("10.0.0.1") == "10.0.0.1")
        #expect(FailedAuthentications.addressKey("::ffff:192.0.2.1") == "192.0.2.1")
        #expect(FailedAuthentications.addressKey(nil) == "unknown")
    }
}
