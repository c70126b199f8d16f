"""Beat packing in sim/axis.py: FINN's lane order (element 0 in the lowest bits)."""
import numpy as np
import pytest

from sim.axis import pack_beats, unpack_beats


def test_element_zero_goes_to_the_lowest_bits():
    assert pack_beats([1, 2, 3, 4, 5, 6], bits=4, per_beat=3) == [0x321, 0x654]


def test_signed_elements_are_twos_complement_per_lane():
    # -1 -> 0xF, -8 -> 0x8, 7 -> 0x7 in 4-bit lanes
    assert pack_beats([-1, -8, 7], bits=4, per_beat=3, signed=True) == [0x78F]
    assert unpack_beats([0x78F], bits=4, per_beat=3, signed=True).tolist() == [-1, -8, 7]
    assert unpack_beats([0x78F], bits=4, per_beat=3).tolist() == [15, 8, 7]


def test_beats_wider_than_64_bits_round_trip():
    frame = np.array([[0xFFFFFFFF, 0, 0x12345678], [1, 2, 3]], dtype=np.uint64)
    beats = pack_beats(frame, bits=32, per_beat=3)
    assert beats[0] == 0x12345678_00000000_FFFFFFFF
    assert unpack_beats(beats, bits=32, per_beat=3).reshape(2, 3).tolist() == frame.tolist()


def test_out_of_range_elements_and_partial_beats_are_refused():
    with pytest.raises(ValueError, match="outside 4-bit unsigned range"):
        pack_beats([16], bits=4, per_beat=1)
    with pytest.raises(ValueError, match="outside 4-bit signed range"):
        pack_beats([8], bits=4, per_beat=1, signed=True)
    with pytest.raises(ValueError, match="do not fill whole beats"):
        pack_beats([1, 2, 3], bits=4, per_beat=2)
