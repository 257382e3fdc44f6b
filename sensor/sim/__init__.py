"""The simulator: planned sessions of drills, thigh kinematics, and the sensor that measures them."""
