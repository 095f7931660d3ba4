package org.jdryad.debug;

/**
 * One binding decision: a reference from {@code referrer} (at {@code site}, a run-time address
 * such as a GOT slot) to {@code symbol} (with {@code version}, or null), bound to {@code address} in
 * {@code definer}, or left unresolved (definer null) for an undefined weak reference.
 *
 * @param kind how the binding was made: eager, lazy, copy, ifunc, tls, dlsym, host-rebind
 * @param searched how many objects the lookup searched
 * @param passedOver a description of candidates passed over and why (empty when none)
 */
public record Binding(long timeNanos, String kind, String referrer, long site, String relocation, String symbol,
                      String version, String definer, long address, int searched, String passedOver) {
}
