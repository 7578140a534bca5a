// The one overflow-checked arithmetic of sizes and counters: memory budgets,
// dataspace and header shapes, layer sizes, checkpoint counters. Each caller
// keeps its own message; the rule (stop at overflow or at a bound) is here.

/// The product of `factors`, or nil when it overflows Int or exceeds `limit`.
///
/// The bound is checked at every partial product, so factors past it fail
/// even when a later factor is 0 (a hostile header's huge dimensions).
package func checkedProduct(_ factors: some Sequence<Int>, atMost limit: Int = .max) -> Int? {
  var result = 1
  for factor in factors {
    let (next, overflow) = result.multipliedReportingOverflow(by: factor)
    guard !overflow, next <= limit else { return nil }
    result = next
  }
  return result
}

/// The sum of `terms`, or nil when it overflows Int (or a term is nil: an overflowed product).
package func checkedSum(_ terms: [Int?]) -> Int? {
  var result = 0
  for term in terms {
    guard let term else { return nil }
    let (next, overflow) = result.addingReportingOverflow(term)
    if overflow { return nil }
    result = next
  }
  return result
}
