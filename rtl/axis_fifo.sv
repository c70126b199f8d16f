// AXI-Stream FIFO holding exactly DEPTH words of WIDTH bits, for buffering between dataflow nodes.
//
// - Full throughput: with DEPTH >= 2 a word can enter and another leave in every cycle. DEPTH = 1 is
//   a single register slot and passes one word every two cycles (ready is registered, see below).
// - No combinational path from input to output: s_axis_tready and m_axis_tvalid depend only on
//   registers, so chained FIFOs also break the ready/valid timing paths between nodes.
// - Any DEPTH >= 1 works (not only powers of two). The storage is read asynchronously from the
//   registered read address; Yosys synth_xilinx maps small depths to LUT RAM (16x8: 2 RAM32M) and
//   absorbs the address register into block RAM for deep ones (512x32: 1 RAMB18E1).
// - count is the number of words stored (0..DEPTH), for debugging and FIFO sizing.
// Ports use AXI-Stream names; the stitcher maps them onto FINN's in0_V_* / out_V_* names.
module axis_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16
) (
    input  logic                         ap_clk,
    input  logic                         ap_rst_n,
    input  logic [WIDTH-1:0]             s_axis_tdata,
    input  logic                         s_axis_tvalid,
    output logic                         s_axis_tready,
    output logic [WIDTH-1:0]             m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  logic                         m_axis_tready,
    output logic [$clog2(DEPTH + 1)-1:0] count
);
  // One address bit at least, so DEPTH = 1 still has a (constant zero) address.
  localparam int ADDR_WIDTH = DEPTH > 1 ? $clog2(DEPTH) : 1;
  localparam int COUNT_WIDTH = $clog2(DEPTH + 1);
  localparam logic [ADDR_WIDTH-1:0] LAST_ADDR = ADDR_WIDTH'(DEPTH - 1);

  initial begin
    if (DEPTH < 1 || WIDTH < 1) $error("axis_fifo: DEPTH and WIDTH must be at least 1");
  end

  logic [WIDTH-1:0] storage[DEPTH];
  logic [ADDR_WIDTH-1:0] write_addr, read_addr;

  wire push = s_axis_tvalid && s_axis_tready;
  wire pop = m_axis_tvalid && m_axis_tready;

  // Circular addressing that also wraps at non-power-of-two depths.
  function automatic logic [ADDR_WIDTH-1:0] next_addr(input logic [ADDR_WIDTH-1:0] addr);
    return addr == LAST_ADDR ? '0 : addr + 1'b1;
  endfunction

  // Storage has no reset: stale words stay invisible because count is cleared.
  always_ff @(posedge ap_clk) begin
    if (push) storage[write_addr] <= s_axis_tdata;
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      write_addr <= '0;
      read_addr  <= '0;
      count      <= '0;
    end else begin
      if (push) write_addr <= next_addr(write_addr);
      if (pop) read_addr <= next_addr(read_addr);
      if (push && !pop) count <= count + 1'b1;
      else if (pop && !push) count <= count - 1'b1;
    end
  end

  assign s_axis_tready = count != COUNT_WIDTH'(DEPTH);
  assign m_axis_tvalid = count != '0;
  assign m_axis_tdata  = storage[read_addr];
endmodule
