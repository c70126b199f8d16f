// Simulation model of finn-rtllib's add_multi (mvu/add_multi.sv in finn-plus 1.6.1), the adder tree
// of FINN's RTL MVAU when SIMD > 1. Verilator cannot elaborate FINN's file (a constant function
// declared inside a generate block), so `hwgen verify` simulates this module in its place; the
// stitched top handed to Vivado keeps FINN's pipelined tree.
//
// Same module name, parameters, ports and cycle behaviour as FINN's: the sum of the N arguments
// (signed when ARG_LO < 0) leaves after min($clog2(N), DEPTH) enabled cycles (FINN's tree registers,
// all balanced and clock-enabled by `en`), then DEPTH - $clog2(N) more free-running cycles (FINN's
// output delay line). Every register resets to zero (RESET_ZERO) or X. The tree's registers hold
// partial sums in FINN and the whole sum here; with one enable for all of them the output is the same.
module add_multi import mvu_pkg::*; #(
    int unsigned N,          // number of addends
    int unsigned DEPTH,      // pipeline depth
    int unsigned ARG_WIDTH,
    int ARG_LO = 0,
    int ARG_HI = 0,
    bit RESET_ZERO = 1,

    localparam int unsigned SUM_WIDTH = sumwidth(N, ARG_WIDTH, ARG_LO, ARG_HI)
) (
    input  logic clk,
    input  logic rst,
    input  logic en,
    input  logic [ARG_WIDTH-1:0] arg[N],
    output logic [SUM_WIDTH-1:0] sum
);
    localparam int unsigned L = $clog2(N);              // levels of the reduction tree
    localparam int unsigned D = L < DEPTH ? L : DEPTH;  // enabled stages (inside FINN's tree)
    localparam int unsigned Z = DEPTH > L ? DEPTH - L : 0;  // free-running stages after it
    localparam bit SIGNED = ARG_LO < 0;
    localparam logic [SUM_WIDTH-1:0] RESET = {SUM_WIDTH{RESET_ZERO ? 1'b0 : 1'bx}};

    logic [SUM_WIDTH-1:0] stage[D + 1];
    if (N == 1) begin : genTrivial
        assign stage[0] = SUM_WIDTH'(arg[0]);  // FINN passes a single addend on unextended
    end : genTrivial
    else begin : genSum
        always_comb begin
            stage[0] = '0;
            for (int unsigned i = 0; i < N; i++)
                stage[0] += SIGNED ? SUM_WIDTH'($signed(arg[i])) : SUM_WIDTH'(arg[i]);
        end
    end : genSum

    for (genvar s = 0; s < D; s++) begin : genTree
        logic [SUM_WIDTH-1:0] q = RESET;
        always_ff @(posedge clk) begin
            if (rst) q <= RESET;
            else if (en) q <= stage[s];
        end
        assign stage[s + 1] = q;
    end : genTree

    if (Z == 0) begin : genDirect
        assign sum = stage[D];
    end : genDirect
    else begin : genDelay
        logic [SUM_WIDTH-1:0] delay[Z] = '{default: RESET};
        always_ff @(posedge clk) begin
            if (rst) delay <= '{default: RESET};
            else begin
                for (int unsigned i = 0; i + 1 < Z; i++) delay[i] <= delay[i + 1];
                delay[Z - 1] <= stage[D];
            end
        end
        assign sum = delay[0];
    end : genDelay
endmodule : add_multi
