"""Reverts decode into the contracts' custom errors by name and argument."""

from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from streamledger import artifacts
from streamledger.errors import ErrorDecoder, billing_decoder


def revert_data(signature: str, types: list[str], values: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_custom_error_is_decoded_with_named_arguments():
    data = revert_data(
        "Billing_InsufficientBalance(address,uint256,uint256)",
        ["address", "uint256", "uint256"],
        ["0x" + "11" * 20, 100, 7],
    )
    error = billing_decoder().decode(data)
    assert error.name == "Billing_InsufficientBalance"
    assert error.args == {"customer": "0x" + "11" * 20, "needed": 100, "available": 7}
    assert str(error).startswith("Billing_InsufficientBalance(customer=0x1111")


def test_openzeppelin_errors_inherited_by_the_contract_are_known():
    data = revert_data("EnforcedPause()", [], [])
    assert billing_decoder().decode(data).name == "EnforcedPause"


def test_panic_carries_its_meaning():
    data = revert_data("Panic(uint256)", ["uint256"], [0x11])
    error = ErrorDecoder([]).decode(data)
    assert error.name == "Panic"
    assert error.args["meaning"] == "arithmetic overflow or underflow"


def test_unknown_selector_and_empty_data_decode_to_none():
    decoder = ErrorDecoder([artifacts.billing_abi()])
    assert decoder.decode(b"\xde\xad\xbe\xef") is None
    assert decoder.decode(b"") is None
    assert decoder.decode(None) is None
