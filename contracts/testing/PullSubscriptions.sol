// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title PullSubscriptions
/// @notice Benchmark baseline only: the renewal model of EIP-1337 style and Unlock-style subscriptions, where
/// each period the merchant pulls the price from every subscriber's wallet with one ERC-20 transferFrom
/// (against a standing allowance) and records the new paid-through time. The minimal contract for a fair
/// per-subscriber comparison with IptvBilling's renewals; not part of the product.
contract PullSubscriptions {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    address public immutable merchant;
    uint256 public immutable price;
    uint256 public immutable period;
    mapping(address subscriber => uint256) public paidThrough;

    event Renewed(address indexed subscriber, uint256 paidThrough);

    error NotDue(address subscriber);

    constructor(IERC20 token_, address merchant_, uint256 price_, uint256 period_) {
        token = token_;
        merchant = merchant_;
        price = price_;
        period = period_;
    }

    function subscribe() external {
        paidThrough[msg.sender] = block.timestamp + period;
        token.safeTransferFrom(msg.sender, merchant, price);
    }

    /// @notice Renews every due subscriber: one transferFrom and one storage write each.
    function renew(address[] calldata subscribers) external {
        for (uint256 i; i < subscribers.length; ++i) {
            address subscriber = subscribers[i];
            uint256 due = paidThrough[subscriber];
            if (due > block.timestamp) revert NotDue(subscriber);
            uint256 next = due + period;
            paidThrough[subscriber] = next;
            emit Renewed(subscriber, next);
            token.safeTransferFrom(subscriber, merchant, price);
        }
    }
}
