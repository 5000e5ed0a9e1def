// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title BillingMath
/// @notice All money arithmetic of the billing system, with the rounding direction in the name:
/// what a customer is charged rounds up, what a customer gets back rounds down. Both directions keep
/// the contract solvent: it never promises more than it holds.
library BillingMath {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant DAY = 1 days;

    /// @dev ceil(a * b / d). Reverts on d == 0 and on overflow of a * b (checked arithmetic).
    function mulDivUp(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        uint256 p = a * b;
        // unchecked: p / d <= p and adding one when there is a remainder cannot overflow that bound.
        unchecked {
            return p / d + (p % d == 0 ? 0 : 1);
        }
    }

    /// @dev floor(a * b / d).
    function mulDivDown(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        return a * b / d;
    }

    /// @notice The charge for `remaining` seconds of a period of `period` seconds priced `price`. Rounds up.
    function proratedCharge(uint256 price, uint256 remaining, uint256 period) internal pure returns (uint256) {
        return mulDivUp(price, remaining, period);
    }

    /// @notice The refund for `remaining` unused seconds of a period paid `paid`. Rounds down.
    function proratedRefund(uint256 paid, uint256 remaining, uint256 period) internal pure returns (uint256) {
        return mulDivDown(paid, remaining, period);
    }

    /// @notice The charge for `quantity` metered units at `unitPrice` per `unitScale` units. Rounds up.
    function usageCharge(uint256 quantity, uint256 unitPrice, uint256 unitScale) internal pure returns (uint256) {
        return mulDivUp(quantity, unitPrice, unitScale);
    }

    /// @notice Provider `i`'s share of `amount` under a split: floor(amount * bps / 10_000) for every entry
    /// but the first; the first entry (by convention the platform) receives the remainder, so the shares
    /// always sum to `amount` exactly.
    function splitShare(uint256 amount, uint256 bps) internal pure returns (uint256) {
        return mulDivDown(amount, bps, BPS);
    }

    /// @notice The first UTC day whose start is at or after `timestamp`: escrowed funds for something that
    /// ends at `timestamp` become releasable at `releaseDay * 1 days`, never earlier than `timestamp`.
    function releaseDay(uint256 timestamp) internal pure returns (uint32) {
        return uint32((timestamp + DAY - 1) / DAY);
    }
}
