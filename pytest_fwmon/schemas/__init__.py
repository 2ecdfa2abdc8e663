"""JSON Schemas shipped with fwmon (report, gate result, policy, baseline)."""
