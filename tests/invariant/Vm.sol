// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The few forge cheatcodes the invariant suite uses (forge-std is not available from npm at a
/// current version; these signatures are forge's own).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 timestamp) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function label(address account, string calldata name) external;
    function toString(uint256 value) external pure returns (string memory);
    function writeLine(string calldata path, string calldata data) external;
}

/// @dev Forge reads the contracts to call at random from the test contract's targetContracts().
abstract contract InvariantTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address[] private _targets;

    function targetContract(address target) internal {
        _targets.push(target);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }
}
