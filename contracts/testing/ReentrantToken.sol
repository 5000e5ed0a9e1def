// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only: an ERC-20 with an attack hook (as an ERC-777 or a malicious token would have). When
/// armed, its next transfer or transferFrom calls `hookTarget` with `hookData` - before or after it moves the
/// balance - as the token itself. The hook fires once per arming, so a re-entrant call that succeeds cannot
/// recurse. `execute` lets the token act as a customer or payee of the contract under attack, so the
/// re-entrant call comes from the same account as the call it interrupts.
contract ReentrantToken is ERC20 {
    /// @notice When the armed hook fires: not at all, before the balance moves, or after.
    enum Hook {
        None,
        Before,
        After
    }

    uint8 private immutable _decimals;

    Hook public hookWhen;
    address public hookTarget;
    bytes public hookData;
    /// @notice Whether a failed hook call reverts the transfer with the hook's revert data (true) or is only
    /// recorded (false), letting the transfer - and the call that made it - go on.
    bool public bubble;

    uint256 public hookCalls;
    bool public lastHookSucceeded;
    bytes public lastHookResult;

    event HookCalled(address indexed target, bool success, bytes result);

    constructor(uint8 decimals_) ERC20("Reentrant Token", "REENTER") {
        _decimals = decimals_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Arms the hook for the next transfer or transferFrom (Hook.None disarms it).
    function setHook(Hook when, address target, bytes calldata data, bool bubble_) external {
        hookWhen = when;
        hookTarget = target;
        hookData = data;
        bubble = bubble_;
    }

    /// @notice Calls `target` with `data` as this token, bubbling a revert.
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        bool success;
        (success, result) = target.call(data);
        if (!success) _revertWith(result);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _hook(Hook.Before);
        super.transfer(to, value);
        _hook(Hook.After);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _hook(Hook.Before);
        super.transferFrom(from, to, value);
        _hook(Hook.After);
        return true;
    }

    function _hook(Hook at) private {
        if (hookWhen != at) return;
        hookWhen = Hook.None; // disarm first: a re-entrant call that transfers again must not fire it twice
        ++hookCalls;
        (bool success, bytes memory result) = hookTarget.call(hookData);
        lastHookSucceeded = success;
        lastHookResult = result;
        emit HookCalled(hookTarget, success, result);
        if (!success && bubble) _revertWith(result);
    }

    function _revertWith(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 32), mload(data))
        }
    }
}
