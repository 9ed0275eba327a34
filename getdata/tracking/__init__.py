"""W&B: where the run goes (``settle``), the run and its artifact (``run``, ``artifact``), the
service a process shares (``service``), the run file read back (``runfile``), and every private
wandb name getdata uses (``compat``)."""
