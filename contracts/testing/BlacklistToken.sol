// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BlacklistToken
/// @notice Test-only: a stablecoin that can freeze addresses, as USDC and USDT can. Every balance move to or
/// from a blacklisted address reverts with AccountBlacklisted. Anyone may blacklist anyone: tests only.
contract BlacklistToken is ERC20 {
    uint8 private immutable _decimals;
    mapping(address account => bool) public isBlacklisted;

    event BlacklistChanged(address indexed account, bool blacklisted);

    error AccountBlacklisted(address account);

    constructor(uint8 decimals_) ERC20("Blacklist USD", "BLUSD") {
        _decimals = decimals_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    function setBlacklisted(address account, bool blacklisted) external {
        isBlacklisted[account] = blacklisted;
        emit BlacklistChanged(account, blacklisted);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (isBlacklisted[from]) revert AccountBlacklisted(from);
        if (isBlacklisted[to]) revert AccountBlacklisted(to);
        super._update(from, to, value);
    }
}
