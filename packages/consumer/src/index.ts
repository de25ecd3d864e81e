// @sluice/consumer: its code arrives with the issue that builds this package (see DESIGN.md).
export {};
