mod optimizer;
