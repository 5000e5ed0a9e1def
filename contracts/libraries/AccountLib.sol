// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A registered customer's hot state, packed into one storage word so that a renewal or a usage
/// charge reads and writes exactly one slot per customer.
///
/// Bit layout, least significant first:
///
/// | bits     | field          | type   | meaning                                                      |
/// |----------|----------------|--------|--------------------------------------------------------------|
/// | 0..79    | balance        | uint80 | withdrawable balance in token units                          |
/// | 80..119  | paidThrough    | uint40 | end of the paid (or trial) period of the base subscription   |
/// | 120..135 | planId         | uint16 | base plan; 0 = never subscribed                              |
/// | 136..151 | priceEpoch     | uint16 | catalogue price epoch at which maxPrice was last checked     |
/// | 152..167 | addOns         | uint16 | bitmask of add-on plans riding on the base period            |
/// | 168..183 | addOnsEnding   | uint16 | add-ons cancelled at period end (subset of addOns)           |
/// | 184..191 | flags          | uint8  | see the FLAG_* constants                                     |
/// | 192..207 | capEpoch       | uint16 | spending-cap period the remaining allowance belongs to       |
/// | 208..255 | capRemaining   | uint48 | allowance left in capEpoch, in cap units (see IptvBilling)   |
type Account is uint256;

using AccountLib for Account global;

library AccountLib {
    uint8 internal constant FLAG_CANCELLED = 1; // renews no more; access until paidThrough, no grace
    uint8 internal constant FLAG_TRIAL = 2; // the current period is a free trial (refunds nothing)
    uint8 internal constant FLAG_RENEWAL_FAILED = 4; // a due renewal found the balance short (reported once)
    uint8 internal constant FLAG_DOWNGRADE_PENDING = 8; // a plan change takes effect at the next renewal
    uint8 internal constant FLAG_HAS_CAP = 16; // the customer set a spending cap
    uint8 internal constant FLAG_PRICE_LAPSED = 32; // not renewed: the price rose above the customer's maxPrice
    uint8 internal constant FLAG_RECHECK = 64; // terms changed (maxPrice): the next renewal re-checks them

    uint256 internal constant MAX_BALANCE = type(uint80).max;
    uint256 internal constant MAX_CAP_UNITS = type(uint48).max;

    // Field positions, public to the renewal loop, which works on the raw word (see IptvBilling._renewBatch).
    uint256 internal constant SHIFT_PAID = 80;
    uint256 internal constant SHIFT_PLAN = 120;
    uint256 internal constant SHIFT_EPOCH = 136;
    uint256 internal constant MASK_BALANCE = 0xffffffffffffffffffff;
    uint256 internal constant MASK_PAID = 0xffffffffff;
    /// @dev Bits that must equal (planId, priceEpoch, no add-ons, no flag but FLAG_HAS_CAP) for the plain
    /// renewal: planId, priceEpoch, addOns, addOnsEnding, and the flags byte without FLAG_HAS_CAP.
    uint256 internal constant PLAIN_MASK = (((1 << 64) - 1) << 120) | (uint256(0xff & ~FLAG_HAS_CAP) << 184);

    uint256 private constant M16 = 0xffff;
    uint256 private constant M40 = 0xffffffffff;
    uint256 private constant M48 = 0xffffffffffff;
    uint256 private constant M80 = 0xffffffffffffffffffff;

    uint256 private constant S_PAID = 80;
    uint256 private constant S_PLAN = 120;
    uint256 private constant S_EPOCH = 136;
    uint256 private constant S_ADDONS = 152;
    uint256 private constant S_ENDING = 168;
    uint256 private constant S_FLAGS = 184;
    uint256 private constant S_CAP_EPOCH = 192;
    uint256 private constant S_CAP_LEFT = 208;

    // ----- getters -----

    function balance(Account a) internal pure returns (uint256) {
        return Account.unwrap(a) & M80;
    }

    function paidThrough(Account a) internal pure returns (uint256) {
        return (Account.unwrap(a) >> S_PAID) & M40;
    }

    function planId(Account a) internal pure returns (uint16) {
        return uint16(Account.unwrap(a) >> S_PLAN);
    }

    function priceEpoch(Account a) internal pure returns (uint16) {
        return uint16(Account.unwrap(a) >> S_EPOCH);
    }

    function addOns(Account a) internal pure returns (uint16) {
        return uint16(Account.unwrap(a) >> S_ADDONS);
    }

    function addOnsEnding(Account a) internal pure returns (uint16) {
        return uint16(Account.unwrap(a) >> S_ENDING);
    }

    function flags(Account a) internal pure returns (uint8) {
        return uint8(Account.unwrap(a) >> S_FLAGS);
    }

    function hasFlag(Account a, uint8 flag) internal pure returns (bool) {
        return (Account.unwrap(a) >> S_FLAGS) & flag != 0;
    }

    function capEpoch(Account a) internal pure returns (uint16) {
        return uint16(Account.unwrap(a) >> S_CAP_EPOCH);
    }

    function capRemaining(Account a) internal pure returns (uint256) {
        return Account.unwrap(a) >> S_CAP_LEFT;
    }

    // ----- setters: callers guarantee the value fits its field (checked where input is external) -----

    function withBalance(Account a, uint256 v) internal pure returns (Account) {
        return Account.wrap((Account.unwrap(a) & ~M80) | v);
    }

    function withPaidThrough(Account a, uint256 v) internal pure returns (Account) {
        return Account.wrap((Account.unwrap(a) & ~(M40 << S_PAID)) | (v << S_PAID));
    }

    function withPlanId(Account a, uint16 v) internal pure returns (Account) {
        return Account.wrap((Account.unwrap(a) & ~(M16 << S_PLAN)) | (uint256(v) << S_PLAN));
    }

    function withPriceEpoch(Account a, uint16 v) internal pure returns (Account) {
        return Account.wrap((Account.unwrap(a) & ~(M16 << S_EPOCH)) | (uint256(v) << S_EPOCH));
    }

    function withAddOns(Account a, uint16 active, uint16 ending) internal pure returns (Account) {
        uint256 cleared = Account.unwrap(a) & ~((M16 << S_ADDONS) | (M16 << S_ENDING));
        return Account.wrap(cleared | (uint256(active) << S_ADDONS) | (uint256(ending) << S_ENDING));
    }

    function withFlag(Account a, uint8 flag) internal pure returns (Account) {
        return Account.wrap(Account.unwrap(a) | (uint256(flag) << S_FLAGS));
    }

    function withoutFlag(Account a, uint8 flag) internal pure returns (Account) {
        return Account.wrap(Account.unwrap(a) & ~(uint256(flag) << S_FLAGS));
    }

    function withCap(Account a, uint16 epoch, uint256 remaining) internal pure returns (Account) {
        uint256 cleared = Account.unwrap(a) & ~((M16 << S_CAP_EPOCH) | (M48 << S_CAP_LEFT));
        return Account.wrap(cleared | (uint256(epoch) << S_CAP_EPOCH) | (remaining << S_CAP_LEFT));
    }
}
