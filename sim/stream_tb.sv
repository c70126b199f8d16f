// Streams frames from a hex file into a DUT's AXI-Stream input and records every output beat to a
// hex file, with random stalls on both sides. Stimulus, stalls, capture and timing run inside the
// simulator, so no Python runs per cycle: cocotb resets, waits for `done` and checks the files.
//
// The DUT module name comes from the DUT define (-DDUT=name). Run-time settings are plusargs, so
// new frames, seeds or stall rates never need a rebuild:
//   +in=FILE          input beats, one hex word per line, frames back to back
//   +out=FILE         output beats written here, one hex word per line
//   +timing=FILE      per frame: "frame first_in_cycle last_out_cycle"
//   +frames=N         frames to stream
//   +stall_permille=P probability (per mille) of an input gap and of output backpressure per cycle
//   +calm_frames=K    the first K frames run without stalls (clean II and latency measurement)
//   +watchdog=C       give up after C cycles without any output beat (sets `stalled`)
//   +frame_interval=C input beats paced to one frame per C cycles, evenly: beat j is offered no
//                     earlier than cycle j*C/IN_BEATS (a camera-like source at a fixed frame rate;
//                     default 0: as fast as the DUT takes them)
module stream_tb #(
    parameter int IN_W = 8,        // s_axis_tdata width
    parameter int OUT_W = 8,       // m_axis_tdata width
    parameter int IN_BEATS = 1,    // input beats per frame
    parameter int OUT_BEATS = 1    // output beats per frame
) (
    input  logic ap_clk,
    input  logic ap_rst_n,
    output logic done,
    output logic stalled,
    output logic calm_done,   // every calm frame's output is out: from here on stalls apply
    output int tlast_errors   // output beats whose tlast disagrees with the frame boundary
);
    logic [IN_W-1:0] s_axis_tdata;
    logic s_axis_tvalid, s_axis_tready;
    logic [OUT_W-1:0] m_axis_tdata;
    logic m_axis_tvalid, m_axis_tready, m_axis_tlast;

    `DUT dut (
        .ap_clk, .ap_rst_n,
        .s_axis_tdata, .s_axis_tvalid, .s_axis_tready,
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready, .m_axis_tlast
    );

    int frames, stall_permille, calm_frames, watchdog;
    longint frame_interval;
    int fin, fout, ftiming;
    string in_path, out_path, timing_path;

    initial begin
        if (!$value$plusargs("in=%s", in_path)) $fatal(1, "stream_tb: +in=FILE missing");
        if (!$value$plusargs("out=%s", out_path)) $fatal(1, "stream_tb: +out=FILE missing");
        if (!$value$plusargs("timing=%s", timing_path)) $fatal(1, "stream_tb: +timing=FILE missing");
        if (!$value$plusargs("frames=%d", frames)) frames = 1;
        if (!$value$plusargs("stall_permille=%d", stall_permille)) stall_permille = 0;
        if (!$value$plusargs("calm_frames=%d", calm_frames)) calm_frames = 0;
        if (!$value$plusargs("watchdog=%d", watchdog)) watchdog = 1000000;
        if (!$value$plusargs("frame_interval=%d", frame_interval)) frame_interval = 0;
        fin = $fopen(in_path, "r");
        if (fin == 0) $fatal(1, "stream_tb: cannot open %s", in_path);
        fout = $fopen(out_path, "w");
        ftiming = $fopen(timing_path, "w");
    end

    longint cycle;
    int loaded, accepted, out_beat, idle_cycles;  // input beats read from file / taken by the DUT
    longint first_in[$], last_out[$];
    assign calm_done = out_beat >= calm_frames * OUT_BEATS;

    // A stall applies to a frame once its index reaches calm_frames (input side: the frame being
    // fed, output side: the frame being drained), so the first frames measure the design's own II
    // and latency.
    function automatic logic stall_now(int frame);
        return frame >= calm_frames && stall_permille > 0 && $urandom_range(999) < stall_permille;
    endfunction

    always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            cycle <= 0;
            loaded <= 0;
            accepted <= 0;
            out_beat <= 0;
            idle_cycles <= 0;
            tlast_errors <= 0;
            s_axis_tvalid <= 1'b0;
            m_axis_tready <= 1'b0;
            done <= 1'b0;
            stalled <= 1'b0;
        end else if (!done) begin
            cycle <= cycle + 1;

            // input side: when the beat register is free, load the next beat unless a gap is drawn
            if (s_axis_tvalid && s_axis_tready) begin
                if (accepted % IN_BEATS == 0) first_in.push_back(cycle);
                accepted <= accepted + 1;
            end
            if (!s_axis_tvalid || s_axis_tready) begin
                if (loaded < frames * IN_BEATS && !stall_now(loaded / IN_BEATS)
                        && cycle * IN_BEATS >= longint'(loaded) * frame_interval) begin
                    if ($fscanf(fin, "%h\n", s_axis_tdata) != 1)
                        $fatal(1, "stream_tb: %s ends at beat %0d; %0d frames need %0d beats",
                               in_path, loaded, frames, frames * IN_BEATS);
                    s_axis_tvalid <= 1'b1;
                    loaded <= loaded + 1;
                end else begin
                    s_axis_tvalid <= 1'b0;
                end
            end

            // output side: record every beat, apply random backpressure
            if (m_axis_tvalid && m_axis_tready) begin
                $fwrite(fout, "%h\n", m_axis_tdata);
                idle_cycles <= 0;
                out_beat <= out_beat + 1;
                if (m_axis_tlast != (out_beat % OUT_BEATS == OUT_BEATS - 1)) tlast_errors <= tlast_errors + 1;
                if (out_beat % OUT_BEATS == OUT_BEATS - 1) last_out.push_back(cycle);
                if (out_beat + 1 == frames * OUT_BEATS) begin
                    for (int f = 0; f < frames; f++)
                        $fwrite(ftiming, "%0d %0d %0d\n", f, first_in[f], last_out[f]);
                    $fclose(fout);
                    $fclose(ftiming);
                    done <= 1'b1;
                end
            end else begin
                idle_cycles <= idle_cycles + 1;
                if (idle_cycles >= watchdog) begin
                    $fclose(fout);
                    $fclose(ftiming);
                    stalled <= 1'b1;
                    done <= 1'b1;
                end
            end
            m_axis_tready <= !stall_now(out_beat / OUT_BEATS);
        end
    end
endmodule
