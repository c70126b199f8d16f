# Body of build.tcl (hwgen package prepends the settings: part, PS names, clock, stream widths).
# Builds: accelerator RTL as a block-design module reference + Zynq PS + AXI DMA (MM2S -> accelerator
# -> S2MM) on one PL clock, then synthesis, implementation, bitstream, .hwh and .xsa.
# Written for Vivado 2022.2 .. 2024.2 in batch mode: vivado -mode batch -source build.tcl [-tclargs JOBS]

set here [file dirname [file normalize [info script]]]
set proj_dir [file join $here vivado]
set jobs [expr {[llength $argv] > 0 ? [lindex $argv 0] : 2}]

proc hwgen_fail {message} {
    error "hwgen: $message"
}

# Newest installed version of a Xilinx IP, so one script serves several Vivado releases.
proc ip_vlnv {name} {
    set defs [get_ipdefs -all "xilinx.com:ip:${name}:*"]
    if {[llength $defs] == 0} {
        hwgen_fail "IP xilinx.com:ip:$name is not in this Vivado installation"
    }
    return [lindex [lsort -dictionary $defs] end]
}

# The packaged sources name their own folder by a placeholder (e.g. in $readmemh paths of weight
# files); fill in this machine's absolute path in a build copy, leaving the package untouched.
proc stage_sources {src_dir dst_dir files} {
    set staged {}
    foreach name $files {
        set dst [file join $dst_dir $name]
        file mkdir [file dirname $dst]
        set fin [open [file join $src_dir $name] r]
        fconfigure $fin -translation binary
        set text [read $fin]
        close $fin
        set fout [open $dst w]
        fconfigure $fout -translation binary
        puts -nonewline $fout [string map [list @HWGEN_RTL_DIR@ $dst_dir] $text]
        close $fout
        lappend staged $dst
    }
    return $staged
}

# Connects two AXI-Stream pins, through a width converter when their byte widths differ.
proc stream_link {from to from_bytes to_bytes converter} {
    if {$from_bytes == $to_bytes} {
        connect_bd_intf_net [get_bd_intf_pins $from] [get_bd_intf_pins $to]
        return {}
    }
    create_bd_cell -type ip -vlnv [ip_vlnv axis_dwidth_converter] $converter
    set_property -dict [list CONFIG.S_TDATA_NUM_BYTES $from_bytes CONFIG.M_TDATA_NUM_BYTES $to_bytes] \
        [get_bd_cells $converter]
    connect_bd_intf_net [get_bd_intf_pins $from] [get_bd_intf_pins $converter/S_AXIS]
    connect_bd_intf_net [get_bd_intf_pins $converter/M_AXIS] [get_bd_intf_pins $to]
    return $converter
}

# --- project and sources -------------------------------------------------------------------------
create_project -force $project_name $proj_dir -part $part
if {[llength [get_board_parts -quiet $board_part]] == 0} {
    hwgen_fail "board files for $board_part are not installed: install them (Vivado: Tools >\
 XHub Stores > Boards, or clone github.com/Xilinx/XilinxBoardStore and set_param board.repoPaths)\
 and run again"
}
set_property board_part $board_part [current_project]
if {$board_connections ne ""} {
    set_property board_connections $board_connections [current_project]
}
add_files -norecurse [stage_sources [file join $here rtl] [file join $proj_dir rtl] $rtl_files]
update_compile_order -fileset sources_1

# --- block design --------------------------------------------------------------------------------
create_bd_design $bd_name

create_bd_cell -type ip -vlnv [ip_vlnv $ps_ip_name] ps
apply_bd_automation -rule $ps_automation_rule -config $ps_automation_config [get_bd_cells ps]
set ps_props [list CONFIG.$ps_clock_property $clock_mhz]
foreach {name value} $ps_enable_properties {
    lappend ps_props CONFIG.$name $value
}
set_property -dict $ps_props [get_bd_cells ps]

create_bd_cell -type module -reference $accel_module accel

create_bd_cell -type ip -vlnv [ip_vlnv axi_dma] dma
set_property -dict [list \
    CONFIG.c_include_sg {0} \
    CONFIG.c_sg_length_width $dma_length_width \
    CONFIG.c_addr_width $dma_addr_width \
    CONFIG.c_include_mm2s {1} \
    CONFIG.c_include_s2mm {1} \
    CONFIG.c_m_axi_mm2s_data_width $dma_mm_width \
    CONFIG.c_m_axis_mm2s_tdata_width [expr {$dma_in_bytes * 8}] \
    CONFIG.c_m_axi_s2mm_data_width $dma_mm_width \
    CONFIG.c_s_axis_s2mm_tdata_width [expr {$dma_out_bytes * 8}] \
    CONFIG.c_mm2s_burst_size {16} \
    CONFIG.c_s2mm_burst_size {16} \
] [get_bd_cells dma]

set converters [concat \
    [stream_link dma/M_AXIS_MM2S accel/s_axis $dma_in_bytes $accel_in_bytes in_width] \
    [stream_link accel/m_axis dma/S_AXIS_S2MM $accel_out_bytes $dma_out_bytes out_width]]

# control: PS master -> DMA registers; memory: both DMA channels -> PS high-performance port
create_bd_cell -type ip -vlnv [ip_vlnv smartconnect] control_ic
set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] [get_bd_cells control_ic]
connect_bd_intf_net [get_bd_intf_pins ps/$ps_control_port] [get_bd_intf_pins control_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins control_ic/M00_AXI] [get_bd_intf_pins dma/S_AXI_LITE]

create_bd_cell -type ip -vlnv [ip_vlnv smartconnect] memory_ic
set_property -dict [list CONFIG.NUM_SI {2} CONFIG.NUM_MI {1}] [get_bd_cells memory_ic]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_MM2S] [get_bd_intf_pins memory_ic/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins dma/M_AXI_S2MM] [get_bd_intf_pins memory_ic/S01_AXI]
connect_bd_intf_net [get_bd_intf_pins memory_ic/M00_AXI] [get_bd_intf_pins ps/$ps_memory_port]

# one PL clock for everything (the accelerator was compiled for it); a synchronized reset
create_bd_cell -type ip -vlnv [ip_vlnv proc_sys_reset] reset
set clocked [list ps/$ps_control_clock_pin ps/$ps_memory_clock_pin reset/slowest_sync_clk accel/ap_clk \
    dma/s_axi_lite_aclk dma/m_axi_mm2s_aclk dma/m_axi_s2mm_aclk control_ic/aclk memory_ic/aclk]
set resets [list accel/ap_rst_n dma/axi_resetn control_ic/aresetn memory_ic/aresetn]
foreach converter $converters {
    lappend clocked $converter/aclk
    lappend resets $converter/aresetn
}
connect_bd_net [get_bd_pins ps/$ps_clock_pin] [get_bd_pins $clocked]
connect_bd_net [get_bd_pins ps/$ps_reset_pin] [get_bd_pins reset/ext_reset_in]
connect_bd_net [get_bd_pins reset/peripheral_aresetn] [get_bd_pins $resets]

assign_bd_address
validate_bd_design
save_bd_design

set bd_file [get_files $bd_name.bd]
make_wrapper -files $bd_file -top -import
set_property top ${bd_name}_wrapper [current_fileset]
update_compile_order -fileset sources_1

# --- synthesis, implementation, bitstream --------------------------------------------------------
launch_runs synth_1 -jobs $jobs
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} {
    hwgen_fail "synthesis failed; see [get_property DIRECTORY [get_runs synth_1]]/runme.log"
}
launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    hwgen_fail "implementation failed; see [get_property DIRECTORY [get_runs impl_1]]/runme.log"
}

open_run impl_1
file mkdir [file join $here reports]
report_utilization -file [file join $here reports utilization.txt]
report_timing_summary -file [file join $here reports timing_summary.txt]
set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]

# Outputs next to this script; the build record is written last, so it marks a finished build.
set hwh [glob -nocomplain \
    [file join $proj_dir $project_name.gen sources_1 bd $bd_name hw_handoff $bd_name.hwh] \
    [file join $proj_dir $project_name.srcs sources_1 bd $bd_name hw_handoff $bd_name.hwh]]
if {[llength $hwh] == 0} {
    hwgen_fail "no $bd_name.hwh was generated under $proj_dir"
}
file copy -force [lindex $hwh 0] [file join $here $output_name.hwh]
file copy -force [file join [get_property DIRECTORY [get_runs impl_1]] ${bd_name}_wrapper.bit] \
    [file join $here $output_name.bit]
write_hw_platform -fixed -include_bit -force -file [file join $here $output_name.xsa]

set record [open [file join $here vivado_build.json] w]
puts $record [format {{"vivado": "%s", "part": "%s", "clock_mhz": %s, "wns_ns": %s, "timing_met": %s, "bitstream": "%s.bit", "hwh": "%s.hwh", "xsa": "%s.xsa"}} \
    [version -short] $part $clock_mhz $wns [expr {$wns >= 0 ? "true" : "false"}] \
    $output_name $output_name $output_name]
close $record
puts "hwgen: bitstream [file join $here $output_name.bit] (worst setup slack $wns ns)"
