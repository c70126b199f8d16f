# Stand-in for Vivado's Tcl commands, to run a generated build.tcl under plain tclsh:
#   tclsh vivado_stub.tcl LOG.jsonl build.tcl [args...]
# Every Vivado command used is recorded as one JSON line {"cmd": ..., "args": [...]} in LOG.jsonl.
# The stub also enforces what Vivado would reject in the flow: a block-design cell used before it is
# created or created twice, a module reference to a module no added file defines, sources that do
# not exist or still hold the relocation placeholder, implementation before synthesis, an odd
# -dict list. Runs "produce" the files Vivado would write (.hwh, .bit, .xsa) so the script's own
# file handling runs too. HWGEN_STUB_WNS sets the reported worst slack (default 0.25).

set stub_log [open [lindex $argv 0] w]
set script [lindex $argv 1]
set argv [lrange $argv 2 end]
set argc [llength $argv]

set stub(project) ""
set stub(bd) ""
set stub(cells) {}
set stub(sources) {}
set stub(runs_done) {}

proc json_string {s} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \t \\t] $s]\""
}

proc record {cmd args} {
    global stub_log
    set items {}
    foreach a $args {
        lappend items [json_string $a]
    }
    puts $stub_log "{\"cmd\": [json_string $cmd], \"args\": \[[join $items {, }]\]}"
    flush $stub_log
}

proc stub_error {message} {
    error "vivado stub: $message"
}

# Option value following a flag in an argument list, or "" when absent.
proc option {args_list flag} {
    set i [lsearch -exact $args_list $flag]
    return [expr {$i < 0 ? "" : [lindex $args_list [expr {$i + 1}]]}]
}

proc version {args} { return "2024.2" }

proc get_ipdefs {args} {
    record get_ipdefs {*}$args
    return [list [string map {* 9.9} [lindex $args end]]]
}

proc get_board_parts {args} {
    record get_board_parts {*}$args
    return [lindex $args end]
}

proc create_project {args} {
    global stub
    record create_project {*}$args
    set rest [lsearch -all -inline -not -exact $args -force]
    set part_at [lsearch -exact $rest -part]
    set rest [lreplace $rest $part_at [expr {$part_at + 1}]]
    set stub(project) [lindex $rest 0]
    set stub(dir) [lindex $rest 1]
    file mkdir $stub(dir)
}

proc current_project {args} { return $::stub(project) }
proc current_fileset {args} { return sources_1 }

proc set_property {args} {
    record set_property {*}$args
    if {[lindex $args 0] eq "-dict" && [llength [lindex $args 1]] % 2} {
        stub_error "set_property -dict with an odd-length list: [lindex $args 1]"
    }
}

proc add_files {args} {
    global stub
    record add_files {*}$args
    foreach f [lindex $args end] {
        if {![file isfile $f]} { stub_error "add_files: $f does not exist" }
        set fh [open $f r]
        set text [read $fh]
        close $fh
        if {[string first @HWGEN_RTL_DIR@ $text] >= 0} { stub_error "add_files: $f still holds the placeholder" }
        lappend stub(sources) $f
    }
}

proc update_compile_order {args} { record update_compile_order {*}$args }

proc create_bd_design {name} {
    global stub
    record create_bd_design $name
    set stub(bd) $name
}

proc create_bd_cell {args} {
    global stub
    record create_bd_cell {*}$args
    if {$stub(bd) eq ""} { stub_error "create_bd_cell before create_bd_design" }
    set name [lindex $args end]
    if {[lsearch -exact $stub(cells) $name] >= 0} { stub_error "cell $name created twice" }
    if {[option $args -type] eq "module"} {
        set module [option $args -reference]
        set found 0
        foreach f $stub(sources) {
            set fh [open $f r]
            if {[regexp "(^|\n)\\s*module\\s+$module\\M" [read $fh]]} { set found 1 }
            close $fh
        }
        if {!$found} { stub_error "module reference $module: no added source defines it" }
    } elseif {[option $args -vlnv] eq ""} {
        stub_error "create_bd_cell $name without -vlnv"
    }
    lappend stub(cells) $name
    return $name
}

proc check_pins {kind patterns} {
    foreach pin $patterns {
        set cell [lindex [split $pin /] 0]
        if {[lsearch -exact $::stub(cells) $cell] < 0} { stub_error "$kind $pin: no cell $cell" }
    }
    return $patterns
}

proc get_bd_cells {args} { return [check_pins get_bd_cells [lindex $args end]] }
proc get_bd_pins {args} { return [check_pins get_bd_pins [lindex $args end]] }
proc get_bd_intf_pins {args} { return [check_pins get_bd_intf_pins [lindex $args end]] }

proc apply_bd_automation {args} { record apply_bd_automation {*}$args }
proc connect_bd_net {args} { record connect_bd_net {*}[concat {*}$args] }
proc connect_bd_intf_net {args} { record connect_bd_intf_net {*}[concat {*}$args] }
proc assign_bd_address {args} { record assign_bd_address {*}$args }
proc validate_bd_design {args} { record validate_bd_design {*}$args }
proc save_bd_design {args} { record save_bd_design {*}$args }

proc get_files {args} {
    global stub
    return [file join $stub(dir) $stub(project).srcs sources_1 bd $stub(bd) [lindex $args end]]
}

proc make_wrapper {args} {
    global stub
    record make_wrapper {*}$args
    set handoff [file join $stub(dir) $stub(project).gen sources_1 bd $stub(bd) hw_handoff]
    file mkdir $handoff
    close [open [file join $handoff $stub(bd).hwh] w]
}

proc get_runs {name} { return $name }

proc launch_runs {args} {
    global stub
    record launch_runs {*}$args
    set run [lindex $args 0]
    if {$run eq "impl_1" && [lsearch -exact $stub(runs_done) synth_1] < 0} {
        stub_error "launch_runs impl_1 before synth_1"
    }
    lappend stub(runs_done) $run
    if {[option $args -to_step] eq "write_bitstream"} {
        set dir [get_property DIRECTORY $run]
        file mkdir $dir
        close [open [file join $dir $stub(bd)_wrapper.bit] w]
    }
}

proc wait_on_run {args} { record wait_on_run {*}$args }
proc open_run {args} { record open_run {*}$args }
proc report_utilization {args} { record report_utilization {*}$args }
proc report_timing_summary {args} { record report_timing_summary {*}$args }
proc get_timing_paths {args} { return path0 }

proc get_property {name object} {
    global stub env
    switch -- $name {
        PROGRESS { return [expr {[lsearch -exact $stub(runs_done) $object] >= 0 ? "100%" : "0%"}] }
        DIRECTORY { return [file join $stub(dir) $stub(project).runs $object] }
        SLACK { return [expr {[info exists env(HWGEN_STUB_WNS)] ? $env(HWGEN_STUB_WNS) : 0.25}] }
        default { stub_error "get_property $name is not modelled" }
    }
}

proc write_hw_platform {args} {
    record write_hw_platform {*}$args
    close [open [option $args -file] w]
}

source $script
close $stub_log
